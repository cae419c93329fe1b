"""The circuit breaker on its own, with a clock the test moves: when it opens, how it probes,
when it closes, and that a backlog is released at a steady rate rather than all at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.delivery.breaker import (
    BreakerOptions,
    Breakers,
    BreakerState,
    CircuitBreaker,
)
from tidings.core.delivery.retry import RetryPolicy

OPTIONS = BreakerOptions(
    failure_threshold=3,
    probe_after=5.0,
    max_probe_interval=40.0,
    release_rate=10.0,
    release_for=30.0,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def breaker(clock: Clock) -> CircuitBreaker:
    return CircuitBreaker(OPTIONS, clock)


def test_closed_admits_everything_and_refusals_do_not_open_it(breaker):
    assert breaker.admit(500) == 500
    breaker.record(answered=7, unavailable=0)  # refusals of messages are answers
    assert breaker.state is BreakerState.CLOSED
    breaker.record(answered=0, unavailable=2)
    assert breaker.state is BreakerState.CLOSED  # below the threshold
    breaker.record(answered=1, unavailable=0)  # an answer resets the run
    breaker.record(answered=0, unavailable=2)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.admit(3) == 3


def test_opens_after_the_threshold_and_admits_nothing_until_the_probe(breaker, clock):
    breaker.record(answered=0, unavailable=3)
    assert breaker.state is BreakerState.OPEN
    assert breaker.admit(100) == 0
    assert breaker.wait() == pytest.approx(5.0)
    clock.now += 4.9
    assert breaker.admit(100) == 0
    clock.now += 0.1
    assert breaker.admit(100) == 1  # one probe
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.admit(100) == 0  # while the probe is out, nothing else


def test_a_failed_probe_reopens_with_a_growing_interval_up_to_the_cap(breaker, clock):
    breaker.record(answered=0, unavailable=3)
    intervals = []
    for _ in range(5):
        clock.now += breaker.wait()
        assert breaker.admit(10) == 1
        breaker.record(answered=0, unavailable=1)
        assert breaker.state is BreakerState.OPEN
        intervals.append(breaker.wait())
    assert intervals == [10.0, 20.0, 40.0, 40.0, 40.0]


def test_a_probe_that_never_reports_is_sent_again(breaker, clock):
    breaker.record(answered=0, unavailable=3)
    clock.now += 5
    assert breaker.admit(10) == 1
    clock.now += OPTIONS.max_probe_interval
    assert breaker.admit(10) == 1


def test_a_good_probe_closes_it_and_the_backlog_goes_at_a_steady_rate(breaker, clock):
    breaker.record(answered=0, unavailable=3)
    clock.now += 5
    assert breaker.admit(1000) == 1
    breaker.record(answered=1, unavailable=0)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.wait(0) == pytest.approx(0.1)  # the n-th held delivery waits n / rate
    assert breaker.wait(49) == pytest.approx(5.0)
    admitted = []
    for _ in range(20):  # ten seconds, a round every half second, 1,000 waiting each time
        clock.now += 0.5
        admitted.append(breaker.admit(1000))
    assert admitted == [5] * 20  # 10 a second, never a burst
    clock.now += OPTIONS.release_for
    assert breaker.admit(1000) == 1000  # the release is over: no limit


def test_a_closed_breaker_after_a_release_opens_again_on_new_trouble(breaker, clock):
    breaker.record(answered=0, unavailable=3)
    clock.now += 5
    breaker.admit(1)
    breaker.record(answered=1, unavailable=0)
    breaker.record(answered=0, unavailable=3)
    assert breaker.state is BreakerState.OPEN
    assert breaker.wait() == pytest.approx(5.0)  # the interval starts again from the first
    assert breaker.admit(100) == 0


def test_each_provider_has_its_own_breaker(clock):
    breakers = Breakers(OPTIONS, clock)
    breakers["smtp"].record(answered=0, unavailable=3)
    assert breakers["smtp"].admit(10) == 0
    assert breakers["smtp-backup"].admit(10) == 10
    assert breakers["smtp"] is breakers["smtp"]


def test_the_retry_budget_is_a_duration_with_an_optional_attempt_cap():
    created = datetime(2030, 1, 1, tzinfo=UTC)
    policy = RetryPolicy(retry_for=timedelta(hours=24))
    late = created + timedelta(hours=23, minutes=59)
    assert not policy.exhausted(500, created, late)  # attempts alone no longer fail it
    next_try = policy.next_try(500, created, late)
    assert next_try is not None and late <= next_try <= created + timedelta(hours=24)
    assert policy.next_try(1, created, created + timedelta(hours=24)) is None
    capped = RetryPolicy(retry_for=timedelta(hours=24), max_attempts=6)
    assert capped.exhausted(6, created, created + timedelta(minutes=1))
    assert not capped.exhausted(5, created, created + timedelta(minutes=1))


def test_backoff_is_capped_and_honours_retry_after():
    policy = RetryPolicy()
    for attempt in range(1, 40):
        assert 0 <= policy.delay(attempt) <= policy.max_seconds
    assert policy.delay(1, retry_after=120) >= 120

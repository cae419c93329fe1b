"""Sign-in throttling (core/services/throttle.py) on both databases: the backoff, the two
counters, the reset on success, concurrent failures, and the refusal before any argon2 work.
Time moves through the throttle's clock parameter, never by sleeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from tests.conftest import PASSWORD, PASSWORD_HASH, SECRET
from tidings.core.enums import Role
from tidings.core.errors import TooManyAttemptsError
from tidings.core.models import AuditEntry, LoginThrottle, Staff
from tidings.core.services.staff import PasswordHashing, StaffService
from tidings.core.services.throttle import SignInThrottle, backoff

EMAIL = "throttled@example.com"
IP = "203.0.113.7"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class RecordingHasher(PasswordHasher):
    """argon2's own hasher, remembering which passwords it was asked to verify."""

    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        self.verified.append(str(password))
        return super().verify(hash, password)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(0, 0), (5, 0), (6, 1), (7, 2), (8, 4), (14, 256), (15, 512), (16, 900), (10_000, 900)],
)
def test_backoff_doubles_after_the_free_attempts_up_to_the_cap(failures, seconds):
    assert backoff(failures, free=5, max_delay=900) == seconds


def _service(
    clock: Clock, free: int = 5, max_delay: int = 900, hasher: PasswordHasher | None = None
) -> StaffService:
    return StaffService(
        passwords=PasswordHashing(hasher=hasher),
        throttle=SignInThrottle(SECRET, free=free, max_delay=max_delay, clock=clock),
    )


async def _member() -> Staff:
    return await Staff.create(email=EMAIL, password_hash=PASSWORD_HASH, role=Role.ADMIN)


async def test_the_account_is_blocked_after_the_free_failures_and_the_wait_doubles(db):
    clock = Clock()
    staff = _service(clock)
    await _member()
    for _ in range(5):
        assert await staff.sign_in(EMAIL, "wrong password!", IP) is None
    assert await staff.sign_in(EMAIL, "wrong password!", IP) is None  # the 6th: counted
    with pytest.raises(TooManyAttemptsError) as refused:
        await staff.sign_in(EMAIL, PASSWORD, IP)  # even the right password waits
    assert refused.value.code == "TOO_MANY_ATTEMPTS" and refused.value.retry_after == 1
    clock.advance(1)
    assert await staff.sign_in(EMAIL, "wrong password!", IP) is None  # the 7th: 2 s
    clock.advance(1.5)
    with pytest.raises(TooManyAttemptsError) as refused:
        await staff.sign_in(EMAIL, "wrong password!", IP)
    assert refused.value.retry_after == 1  # 0.5 s left, rounded up
    clock.advance(0.5)
    assert await staff.sign_in(EMAIL, PASSWORD, IP) is not None


async def test_a_refused_attempt_checks_no_password_and_counts_nothing(db):
    clock = Clock()
    hasher = RecordingHasher()
    staff = _service(clock, free=1, hasher=hasher)
    await _member()
    verified = hasher.verified
    await staff.sign_in(EMAIL, "wrong password 1", IP)
    await staff.sign_in(EMAIL, "wrong password 2", IP)
    assert verified == ["wrong password 1", "wrong password 2"]
    throttle = staff.throttle
    before = await throttle.failures(throttle.account_key(EMAIL))
    for _ in range(3):
        with pytest.raises(TooManyAttemptsError):
            await staff.sign_in(EMAIL, PASSWORD, IP)
    assert verified == ["wrong password 1", "wrong password 2"]
    assert await throttle.failures(throttle.account_key(EMAIL)) == before == 2


async def test_a_success_resets_the_account_but_not_the_address(db):
    clock = Clock()
    staff = _service(clock)
    await _member()
    for _ in range(4):
        await staff.sign_in(EMAIL, "wrong password!", IP)
    throttle = staff.throttle
    assert await throttle.failures(throttle.account_key(EMAIL)) == 4
    assert await throttle.failures("ip:" + IP) == 4
    assert await staff.sign_in(EMAIL.upper(), PASSWORD, IP) is not None
    assert await throttle.failures(throttle.account_key(EMAIL)) == 0
    assert await throttle.failures("ip:" + IP) == 4
    # Five more failures are free again for the account.
    for _ in range(5):
        await staff.sign_in(EMAIL, "wrong password!", "198.51.100.1")
    assert await staff.sign_in(EMAIL, PASSWORD, "198.51.100.1") is not None


async def test_one_address_guessing_many_accounts_is_blocked(db):
    clock = Clock()
    staff = _service(clock)
    await _member()
    for n in range(6):
        assert await staff.sign_in(f"nobody{n}@example.com", "wrong password!", IP) is None
    with pytest.raises(TooManyAttemptsError):
        await staff.sign_in(EMAIL, PASSWORD, IP)  # a fresh account, the same address
    assert await staff.sign_in(EMAIL, PASSWORD, "198.51.100.1") is not None  # another host


async def test_one_account_guessed_from_many_addresses_is_blocked(db):
    clock = Clock()
    staff = _service(clock)
    await _member()
    for n in range(6):
        await staff.sign_in(EMAIL, "wrong password!", f"198.51.100.{n}")
    with pytest.raises(TooManyAttemptsError) as refused:
        await staff.sign_in(EMAIL, PASSWORD, "192.0.2.99")
    entry = await AuditEntry.filter(action="auth.throttled").order_by("-id").first()
    assert entry is not None and entry.detail["blockedBy"] == ["account"]
    assert entry.detail["retryAfter"] == refused.value.retry_after
    member = await Staff.get(email=EMAIL)
    assert entry.targets == {"staff": str(member.id)}
    assert EMAIL not in str(entry.detail) + str(entry.targets)


async def test_concurrent_wrong_attempts_are_all_counted(db):
    clock = Clock()
    staff = _service(clock, free=5, max_delay=900)
    await _member()
    attempts = 12
    results = await asyncio.gather(
        *(staff.sign_in(EMAIL, f"wrong password {n}", IP) for n in range(attempts)),
        return_exceptions=True,
    )
    # Some may already be refused (their check ran after others' failures); none signed in.
    assert all(r is None or isinstance(r, TooManyAttemptsError) for r in results), results
    counted = sum(1 for r in results if r is None)
    throttle = staff.throttle
    assert await throttle.failures(throttle.account_key(EMAIL)) == counted
    assert await throttle.failures("ip:" + IP) == counted
    assert await LoginThrottle.all().count() == 2
    with pytest.raises(TooManyAttemptsError) as refused:
        await staff.sign_in(EMAIL, PASSWORD, IP)
    assert refused.value.retry_after == backoff(counted, 5, 900)


async def test_counters_are_shared_by_every_service_on_the_database(db):
    """Two processes are two services over one table: a block set by one holds in the other."""
    clock = Clock()
    first, second = _service(clock), _service(clock)
    await _member()
    for _ in range(6):
        await first.sign_in(EMAIL, "wrong password!", IP)
    with pytest.raises(TooManyAttemptsError):
        await second.sign_in(EMAIL, PASSWORD, IP)


async def test_an_attempt_without_an_address_counts_the_account_only(db):
    clock = Clock()
    staff = _service(clock)
    await _member()
    for _ in range(6):
        await staff.sign_in(EMAIL, "wrong password!", None)
    assert await LoginThrottle.all().count() == 1
    with pytest.raises(TooManyAttemptsError):
        await staff.sign_in(EMAIL, PASSWORD, IP)


async def test_the_keys_hold_no_email(db):
    clock = Clock()
    staff = _service(clock)
    await staff.sign_in(EMAIL, "wrong password!", IP)
    keys = set(await LoginThrottle.all().values_list("key", flat=True))
    assert "ip:" + IP in keys
    (account,) = keys - {"ip:" + IP}
    assert account.startswith("account:") and "throttled" not in account
    # Keyed: another secret key gives another hash.
    other = SignInThrottle(SECRET + "-other", clock=clock)
    assert other.account_key(EMAIL) != account
    assert staff.throttle.account_key(" Throttled@Example.com ") == account


async def test_a_day_old_counter_is_forgotten_at_the_next_failure(db):
    clock = Clock()
    staff = _service(clock)
    await _member()
    for _ in range(6):
        await staff.sign_in(EMAIL, "wrong password!", IP)
    await staff.sign_in("other@example.com", "wrong password!", "198.51.100.9")
    clock.advance(24 * 3600 + 1)
    await staff.sign_in("someone@example.com", "wrong password!", "192.0.2.1")
    throttle = staff.throttle
    assert await throttle.failures(throttle.account_key(EMAIL)) == 0
    assert await throttle.failures("ip:" + IP) == 0
    assert await LoginThrottle.all().count() == 2  # only the last failure's two counters
    for _ in range(5):  # free again
        assert await staff.sign_in(EMAIL, "wrong password!", IP) is None
    assert await staff.sign_in(EMAIL, PASSWORD, IP) is not None

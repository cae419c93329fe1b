"""Templates are checked and rendered in processes of their own: the event loop only waits,
a template that breaks a limit fails alone and quickly, and a render process that runs out
of memory or stops answering is replaced. Real processes throughout."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.conftest import data
from tests.core.support import create_customer
from tests.delivery.support import rows, send
from tests.delivery.test_templates import set_template, setup
from tidings.core.delivery.render import Content, RenderError, template_variables
from tidings.core.delivery.sandbox import GRACE, TemplateSandbox
from tidings.core.enums import DeliveryStatus
from tidings.core.errors import UserInputError
from tidings.core.models.messages import Notification, Template

ORDINARY = Content("Order {{ data.n }}", "Hello {{ customer.name }}")
LOOPS = Content(
    "t", "{% for i in range(25000) %}\n{% for j in range(25000) %}{% endfor %}{% endfor %}"
)
RECURSION = Content(
    "t",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}",
)
MEMORY = Content("t", '{{ "x" | center(400000000) }}')  # no `*`: built by a filter
# Some tens of milliseconds of processor time, well inside the 200 ms limit.
STARVED = Content(
    "t",
    "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
    "{{ f(10) }}done",
)


@pytest.fixture
async def sandbox() -> AsyncIterator[TemplateSandbox]:
    made = TemplateSandbox()
    yield made
    made.close()


def values(n: int) -> dict:
    return template_variables("Ann", "en", {}, {"n": n})


async def test_a_batch_renders_everything_but_what_breaks_a_limit(sandbox):
    jobs = [(ORDINARY, values(n)) for n in range(60)]
    jobs[5] = (LOOPS, values(5))
    jobs[15] = (RECURSION, values(15))
    jobs[25] = (RECURSION, values(25))
    started = time.perf_counter()
    results = await sandbox.render_many(jobs)
    elapsed = time.perf_counter() - started
    failed = {n: str(r) for n, r in enumerate(results) if isinstance(r, RenderError)}
    assert failed == {
        5: "body, line 2: more than 100000 loop iterations",
        15: "body: rendering took over 200 ms",
        25: "body: rendering took over 200 ms",
    }
    assert [results[n].title for n in (0, 6, 59)] == ["Order 0", "Order 6", "Order 59"]
    assert results[59].body == "Hello Ann"
    assert elapsed < 6, elapsed  # two timeouts and starting a process: not minutes


async def test_a_render_out_of_memory_fails_alone_and_the_next_one_works(sandbox):
    first, second = await sandbox.render_many([(MEMORY, values(1)), (ORDINARY, values(2))])
    assert isinstance(first, RenderError)
    assert (str(first), first.limit) == (
        "body: the template needed over 256 MiB of memory",
        "memory",
    )
    assert second == Content("Order 2", "Hello Ann")
    assert (await sandbox.render_many([(ORDINARY, values(3))]))[0].title == "Order 3"


async def test_a_render_process_that_stops_answering_is_killed_and_replaced(sandbox):
    await sandbox.render_many([(ORDINARY, values(0))])
    [process] = sandbox._processes
    os.kill(process.popen.pid, signal.SIGSTOP)  # as if stuck in one long call in C
    other = Content("Other {{ data.n }}", "b")
    started = time.perf_counter()
    results = await sandbox.render_many([(ORDINARY, values(1)), (other, values(2))])
    elapsed = time.perf_counter() - started
    assert str(results[0]) == "template: rendering took over 200 ms"
    assert results[1] == Content("Other 2", "b")
    assert process.popen.poll() is not None  # killed, and reaped
    assert 0.2 + GRACE <= elapsed < 0.2 + GRACE + 5
    assert process not in sandbox._processes


async def test_a_render_process_that_died_while_idle_is_replaced(sandbox):
    await sandbox.render_many([(ORDINARY, values(0))])
    await sandbox.check("{{ customer.name }}", "body")
    for process in list(sandbox._processes):
        process.popen.send_signal(signal.SIGKILL)  # the kernel's OOM killer, say
        process.popen.wait()
    assert (await sandbox.render_many([(ORDINARY, values(1))]))[0].title == "Order 1"
    for process in list(sandbox._processes):
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait()
    assert await sandbox.check("{{ customer.name }}", "body")


async def test_render_processes_hold_no_setting_of_ours(sandbox, monkeypatch):
    monkeypatch.setenv("TIDINGS_SECRET_KEY", "s" * 40)
    sandbox.close()
    await sandbox.render_many([(ORDINARY, values(0))])
    [process] = sandbox._processes
    environ = Path(f"/proc/{process.popen.pid}/environ").read_bytes().split(b"\0")  # noqa: ASYNC240
    assert not [entry for entry in environ if entry.startswith(b"TIDINGS_")]


async def test_a_check_never_stops_the_event_loop(sandbox):
    """A 64 KiB template takes a second or more to parse, compile and try: the event loop
    keeps turning meanwhile. Checked against the check's own length, not a fixed lag: on
    the loop, one gap would span the whole check; off it, no gap comes near half of it
    however busy the machine."""
    source = ("{{ data.a + data.b * 2 ~ data.c | upper }}\n" * 1500)[:65536]
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    try:
        assert await sandbox.check(source, "body") == source
    finally:
        done.set()
        await ticker
    elapsed = time.perf_counter() - started
    assert elapsed > 0.5  # it did take a while
    assert len(gaps) > 10 and max(gaps) < elapsed / 2, (max(gaps), elapsed)


async def test_a_check_refuses_what_breaks_a_limit_and_the_rest_as_before(sandbox):
    for source, message in [
        ('{{ "x" * 4*10**8 }}', "body, line 1: a string over 262144 characters"),
        (LOOPS.body, "body, line 2: more than 100000 loop iterations"),
        (RECURSION.body, "body: rendering took over 200 ms"),
        (MEMORY.body, "body: the template needed over 256 MiB of memory"),
        ("{{ customer.email }}", "body, line 1: unknown variable customer.email"),
    ]:
        with pytest.raises(UserInputError) as refused:
            await sandbox.check(source, "body")
        assert refused.value.code == "INVALID_TEMPLATE"
        assert refused.value.message.startswith(message)
    with pytest.raises(UserInputError) as refused:
        await sandbox.check("x" * 65537, "html", html=True)
    assert (refused.value.code, refused.value.field) == ("TOO_LONG", "html")
    assert await sandbox.check("<p>{{ customer.name }}</p>", "html", html=True)


async def test_set_template_refuses_a_constant_bomb_quickly_and_stores_nothing(api):
    token = await setup(api)
    started = time.perf_counter()
    payload = await set_template(api, token, body='Hi\n{{ "x" * 4*10**8 }}')
    assert time.perf_counter() - started < 5
    assert payload["errors"] == [
        {
            "code": "INVALID_TEMPLATE",
            "field": "body",
            "message": "body, line 2: a string over 262144 characters",
        }
    ]
    assert await Template.all().count() == 0


async def test_at_send_a_runaway_render_fails_its_delivery_and_no_other(api):
    """A template whose cost depends on the customer passes its check and breaks a limit
    for one recipient of a batch: that delivery is FAILED (REJECTED) with the limit in
    lastError; everyone else gets the message, with little delay."""
    token = await setup(api)
    body = (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(customer.attributes.depth | default(0)) }}Hello {{ customer.name }}"
    )
    assert (await set_template(api, token, body=body))["errors"] == []
    ordinary = [(await create_customer(api, token, name=f"c{n}"))["id"] for n in range(30)]
    runaway = (await create_customer(api, token, name="deep", attributes={"depth": 40}))["id"]
    message = await send(
        api, token, "orders", {"customerIds": [*ordinary[:15], runaway, *ordinary[15:]]},
        title=None, data={"order": 7},
    )  # fmt: skip
    started = time.perf_counter()
    assert await api.runtime.worker.run_once() == 31
    assert time.perf_counter() - started < 10  # before: 2**40 macro calls, for hours
    by_status: dict[DeliveryStatus, list] = {}
    for row in await rows(message):
        by_status.setdefault(row.status, []).append(row)
    [failed] = by_status.pop(DeliveryStatus.FAILED)
    assert (failed.reason, failed.last_error) == (
        "REJECTED",
        "template: body: rendering took over 200 ms",
    )
    assert [len(found) for found in by_status.values()] == [30]
    assert list(by_status) == [DeliveryStatus.DELIVERED]  # in the inbox
    titles = await Notification.all().values_list("title", flat=True)
    assert sorted(titles) == ["Order 7"] * 30
    listed = data(await api.gql("{ failedDeliveries { nodes { lastError } } }", token=token))
    assert listed["failedDeliveries"]["nodes"] == [{"lastError": failed.last_error}]


async def test_a_render_process_starved_of_the_processor_is_not_taken_for_a_runaway(sandbox):
    """The time limit is the render's own processor time: on a machine busy elsewhere, a
    render that waits for the processor past the wall-clock allowance still finishes."""
    await sandbox.render_many([(ORDINARY, values(0))])
    [process] = sandbox._processes
    cpu = os.sched_getaffinity(process.popen.pid)
    one = {min(cpu)}
    hog = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "while True: pass", preexec_fn=lambda: os.sched_setaffinity(0, one)
    )
    try:
        os.sched_setaffinity(process.popen.pid, one)
        os.setpriority(os.PRIO_PROCESS, process.popen.pid, 19)  # about 1.5% beside the hog
        started = time.perf_counter()
        [result] = await sandbox.render_many([(STARVED, values(1))])
        elapsed = time.perf_counter() - started
    finally:
        hog.kill()
        await hog.wait()
    # On a quiet machine the render waits about 5 s for the processor, past the 2.2 s the
    # old wall-clock rule allowed; a busier one starves it less evenly, so the wait is not
    # asserted: what must hold is that it finished, in the same process.
    assert result == Content("t", "done"), f"after {elapsed:.1f} s"
    assert sandbox._processes == {process}

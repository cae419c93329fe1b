"""`tidings worker` on SIGTERM, for real: a worker stopped mid-batch finishes within
TIDINGS_SHUTDOWN_SECONDS or releases what it holds, and exits 0; with several delivery loops
(TIDINGS_WORKER_CONCURRENCY), every loop's batch.

The SMS API here holds every request until the test opens its gate, so "mid-batch" is a
state the test waits for, not a moment it guesses. Leases are an hour long: a row another
worker sends during the test was released, not left to expire."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Api, make_settings
from tests.delivery.support import create_category, send
from tests.delivery.test_workers_pg import sent_references, worker_env
from tests.providers.peers import Reply, SmsApi
from tidings.api.app import create_app
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.ids import new_id
from tidings.core.models import Customer
from tidings.core.models.messages import Delivery
from tidings.schema.ids import from_global_id, to_global_id

WAIT = 90.0  # generous: a worker starts in seconds, but the machine may be busy


class GatedSms(SmsApi):
    """The SMS API, answering nothing until `gate` is set; `arrived` counts requests."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.arrived = 0

    def route(self, path: str, headers: dict[str, str], raw: bytes) -> Reply:
        with self.lock:
            self.arrived += 1
        self.gate.wait(timeout=WAIT * 2)
        return super().route(path, headers, raw)


@pytest.fixture
def sms() -> Iterator[GatedSms]:
    peer = GatedSms()
    yield peer
    peer.gate.set()
    peer.close()


async def queued_sms(api: Api, count: int) -> list[uuid.UUID]:
    """`count` QUEUED sms deliveries, one per new customer, in one send."""
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "codes", "TRANSACTIONAL", defaultChannels=["sms"])
    made = [
        Customer(
            id=new_id(),
            external_id=f"s-{secrets.token_hex(5)}",
            phone=f"+1555{secrets.randbelow(10**7):07d}",
        )
        for _ in range(count)
    ]
    await Customer.bulk_create(made)
    ids = [to_global_id("Customer", c.id) for c in made]
    message = await send(api, admin, "codes", {"customerIds": ids})
    rows = await Delivery.filter(message_id=from_global_id(message["id"], "Message"))
    assert {r.status for r in rows} == {DeliveryStatus.QUEUED}
    return [r.id for r in rows]


class Worker:
    def __init__(self, database_url: str, sms: GatedSms, tag: str, directory: Path, **extra: str):
        self.log = directory / f"{tag}.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tidings.api.cli", "worker"],
                env=worker_env(
                    database_url,
                    TIDINGS_SMS_URL=f"{sms.url}/v1/messages",
                    TIDINGS_SMS_API_KEY=sms.api_key,
                    TIDINGS_SMS_FROM=tag,
                    TIDINGS_WORKER_LEASE_SECONDS="1h",
                    TIDINGS_WORKER_BATCH_SIZE="5",
                    **extra,
                ),
                cwd=directory,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    async def until(self, condition: Callable[[], Awaitable[bool]], what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not await condition():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited before {what}:\n{self.text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not {what} within {WAIT}s:\n{self.text()}")
            await asyncio.sleep(0.1)

    async def exit_code(self) -> int:
        try:
            return await asyncio.to_thread(self.process.wait, WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"the worker did not exit:\n{self.text()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def arrived(sms: GatedSms, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return sms.arrived >= count

    return check


def logged(worker: Worker, text: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return text in worker.text()

    return check


async def statuses(ids: list[uuid.UUID]) -> list[Delivery]:
    return await Delivery.filter(id__in=ids).order_by("id")


@pytest.mark.parametrize("loops", [1, 2])
async def test_stopped_at_the_deadline_it_releases_what_it_held(api, db, sms, tmp_path, loops):
    ids = await queued_sms(api, 5 * loops)  # a batch of 5 in each loop's hands
    first = Worker(
        db,
        sms,
        "w1",
        tmp_path,
        TIDINGS_SHUTDOWN_SECONDS="1",
        TIDINGS_WORKER_CONCURRENCY=str(loops),
    )
    second = None
    try:
        await first.until(arrived(sms, 5 * loops), "every loop's batch reached the provider")
        first.process.send_signal(signal.SIGTERM)
        assert await first.exit_code() == 0, first.text()
        assert "released to other workers" in first.text()
        rows = await statuses(ids)
        # Nothing was answered, so nothing was sent: every row is back in the queue.
        back = [(r.status, r.locked_until) for r in rows]
        assert back == [(DeliveryStatus.QUEUED, None)] * len(ids)

        sms.gate.set()
        second = Worker(db, sms, "w2", tmp_path)

        async def all_sent() -> bool:
            return {r.status for r in await statuses(ids)} == {DeliveryStatus.SENT}

        # Sent long before an hour's lease would have ended: they were released.
        await second.until(all_sent, "everything sent by the second worker")
        second.process.send_signal(signal.SIGTERM)
        assert await second.exit_code() == 0, second.text()
    finally:
        first.kill()
        if second is not None:
            second.kill()
    by_second = {ref for ref, sender in sent_references(sms) if sender == "w2"}
    assert by_second == {str(i) for i in ids}
    # Each claim counts as an attempt: the provider may have had the row before the stop.
    assert {r.attempts for r in await statuses(ids)} == {2}


async def test_within_the_deadline_it_finishes_the_batch_and_claims_no_more(api, db, sms, tmp_path):
    ids = await queued_sms(api, 15)
    beat = tmp_path / "heartbeat"
    worker = Worker(
        db,
        sms,
        "w1",
        tmp_path,
        TIDINGS_SHUTDOWN_SECONDS="2m",
        TIDINGS_WORKER_HEARTBEAT_FILE=str(beat),
        TIDINGS_WORKER_CONCURRENCY="2",
    )
    try:
        await worker.until(arrived(sms, 10), "both loops' first batch reached the provider")
        worker.process.send_signal(signal.SIGTERM)
        await worker.until(logged(worker, "stopping: finishing"), "stopping")
        sms.gate.set()  # the provider answers now: the batch in hand finishes
        assert await worker.exit_code() == 0, worker.text()
    finally:
        worker.kill()
    rows = await statuses(ids)
    sent = [r for r in rows if r.status is DeliveryStatus.SENT]
    waiting = [r for r in rows if r.status is DeliveryStatus.QUEUED]
    assert len(sent) == 10 and len(waiting) == 5
    assert {(r.locked_until, r.attempts) for r in waiting} == {(None, 0)}  # never claimed
    assert sms.arrived == 10
    assert "the work in hand finished" in worker.text()
    assert beat.exists()  # the round that finished beat


async def test_the_in_process_worker_releases_what_it_held_when_the_app_stops(db, sms):
    """`serve`'s in-process worker stops with the app's lifespan, within the same deadline,
    and releases every loop's rows as `tidings worker` does."""
    settings = make_settings(
        db,
        TIDINGS_SMS_URL=f"{sms.url}/v1/messages",
        TIDINGS_SMS_API_KEY=sms.api_key,
        TIDINGS_SMS_FROM="in-process",
        TIDINGS_WORKER_LEASE_SECONDS="1h",
        TIDINGS_WORKER_BATCH_SIZE="5",
        TIDINGS_SHUTDOWN_SECONDS="500ms",
        TIDINGS_WORKER_CONCURRENCY="2",
    )
    app = create_app(settings, manage_database=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        ids = await queued_sms(Api(client=client, app=app), 10)
    async with app.router.lifespan_context(app):
        deadline = time.monotonic() + WAIT
        while sms.arrived < 10:
            assert time.monotonic() < deadline, "the batches never reached the provider"
            await asyncio.sleep(0.05)
    rows = await statuses(ids)
    assert [(r.status, r.locked_until) for r in rows] == [(DeliveryStatus.QUEUED, None)] * 10

"""Wrong-password logins cannot starve the service: argon2 runs in worker threads, a bounded
number at once, so the event loop keeps answering (`/healthz`, every other request) while
logins queue. The loop's responsiveness is measured by a heartbeat task's worst lag, not by
racing a wall clock: argon2 on the loop blocks it for a whole verification (0.1-1 s here)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from argon2 import PasswordHasher

from tests.conftest import data
from tidings.core.enums import Role
from tidings.core.services.staff import PasswordHashing, StaffService

LOGIN = (
    "mutation($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { token errors { code } } }"
)
EMAIL = "load.test@example.com"
LOGINS = 6  # a few seconds of argon2 at the default parameters on this machine's two cores
WORST_LAG = 0.2  # seconds; one argon2 verification on the loop takes longer


@contextmanager
def heartbeat() -> Iterator[list[float]]:
    """The event loop's worst lag while the block runs: how late a 10 ms tick came."""
    worst = [0.0]

    async def beat() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(0.01)
            worst[0] = max(worst[0], time.perf_counter() - start - 0.01)

    task = asyncio.get_running_loop().create_task(beat())
    try:
        yield worst
    finally:
        task.cancel()


class CountingHasher(PasswordHasher):
    """argon2's own hasher, counting how many verifications run at the same moment."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0
        self.started = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
        self.started.set()
        try:
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1


async def test_wrong_password_logins_leave_the_event_loop_free(api):
    await api.staff(Role.ADMIN, email=EMAIL)

    async def login(password: str) -> dict:
        return data(await api.gql(LOGIN, {"email": EMAIL, "password": password}))["login"]

    with heartbeat() as worst:
        logins = [asyncio.create_task(login(f"wrong-password-{n}")) for n in range(LOGINS)]
        await asyncio.sleep(0.05)
        health = []
        while not all(task.done() for task in logins):
            health.append((await api.client.get("/healthz")).status_code)
            await asyncio.sleep(0.05)
        results = await asyncio.gather(*logins)
    assert all(r == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]} for r in results)
    assert health and set(health) == {200}
    assert worst[0] < WORST_LAG, f"the event loop stalled for {worst[0]:.3f} s"


async def test_verifications_are_bounded_and_the_rest_queue(db):
    """Six logins at once with room for two: never more than two verifications run
    together, and every login is answered (queued, not refused); an unknown email costs a
    verification too, so it cannot be told apart by timing."""
    from tests.conftest import PASSWORD, PASSWORD_HASH
    from tidings.core.models import Staff

    await Staff.create(email=EMAIL, password_hash=PASSWORD_HASH, role=Role.ADMIN)
    hasher = CountingHasher()
    staff = StaffService(passwords=PasswordHashing(concurrency=2, hasher=hasher))
    attempts = [
        staff.authenticate(EMAIL, PASSWORD),
        *(staff.authenticate(EMAIL, f"wrong-password-{n}") for n in range(3)),
        staff.authenticate("nobody@example.com", PASSWORD),
        staff.authenticate("nobody@example.com", "wrong-password"),
    ]
    results = await asyncio.gather(*attempts)
    assert results[0] is not None and results[0].email == EMAIL
    assert results[1:] == [None] * 5
    assert hasher.calls == 6
    assert hasher.peak == 2


async def test_a_cancelled_login_keeps_its_slot_until_its_thread_ends():
    """A thread cannot be stopped: a login cancelled mid-verification (its client gone)
    holds its slot until argon2 returns, so the bound holds even then."""
    hasher = CountingHasher()
    passwords = PasswordHashing(concurrency=1, hasher=hasher)
    first = asyncio.create_task(passwords.verify(None, "wrong-password-one"))
    await asyncio.to_thread(hasher.started.wait)
    first.cancel()
    second = asyncio.create_task(passwords.verify(None, "wrong-password-two"))
    await asyncio.gather(first, second, return_exceptions=True)
    assert first.cancelled()
    assert await second is False
    assert hasher.peak == 1

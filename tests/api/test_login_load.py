"""Wrong-password logins cannot starve the service: argon2 runs in worker threads, a bounded
number at once, so the event loop keeps answering (`/healthz`, every other request) while
logins queue. Proven without a clock: the hasher holds each verification until `/healthz`
has answered, which only a free event loop can do; argon2 on the loop would hold the loop
itself, `/healthz` could never answer, and the gate would give up."""

from __future__ import annotations

import asyncio
import threading

from argon2 import PasswordHasher

from tests.conftest import data
from tidings.core.enums import Role
from tidings.core.services.staff import PasswordHashing, StaffService

LOGIN = (
    "mutation($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { token errors { code } } }"
)
EMAIL = "load.test@example.com"
LOGINS = 6
GATE_TIMEOUT = 10.0  # seconds; only reached when the loop is blocked


class CountingHasher(PasswordHasher):
    """argon2's own hasher, counting how many verifications run at the same moment and
    on which threads."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.calls = 0
        self.threads: set[int] = set()
        self.started = threading.Event()

    def verify(self, hash: str | bytes, password: str | bytes) -> bool:
        with self.lock:
            self.running += 1
            self.calls += 1
            self.peak = max(self.peak, self.running)
            self.threads.add(threading.get_ident())
        self.started.set()
        try:
            self.hold()
            return super().verify(hash, password)
        finally:
            with self.lock:
                self.running -= 1

    def hold(self) -> None:
        """Where a verification may be made to wait (not here)."""


class GatedHasher(CountingHasher):
    """Holds every verification until the gate opens, and remembers any that gave up."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gave_up = 0

    def hold(self) -> None:
        if not self.gate.wait(GATE_TIMEOUT):
            with self.lock:
                self.gave_up += 1


async def test_wrong_password_logins_leave_the_event_loop_free(api):
    await api.staff(Role.ADMIN, email=EMAIL)
    hasher = GatedHasher()
    api.app.state.runtime.services.staff.passwords.hasher = hasher

    async def login(password: str) -> dict:
        return data(await api.gql(LOGIN, {"email": EMAIL, "password": password}))["login"]

    logins = [asyncio.create_task(login(f"wrong-password-{n}")) for n in range(LOGINS)]
    await asyncio.to_thread(hasher.started.wait, GATE_TIMEOUT)
    assert hasher.running >= 1  # a verification is under way, held at the gate
    health = [(await api.client.get("/healthz")).status_code for _ in range(3)]
    still_held = not any(task.done() for task in logins)
    hasher.gate.set()
    results = await asyncio.gather(*logins)
    assert health == [200, 200, 200]
    assert still_held  # /healthz answered while every login waited on argon2
    assert hasher.gave_up == 0
    assert threading.get_ident() not in hasher.threads  # never on the loop's thread
    assert hasher.calls == LOGINS
    assert all(r == {"token": None, "errors": [{"code": "INVALID_CREDENTIALS"}]} for r in results)


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

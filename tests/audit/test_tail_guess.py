"""Appending on the guessed tail (core/audit/log.py `_TailGuess`): right, the read of the tail
is skipped; wrong in any way (another process appended, an append rolled back, a guess past
the end), nothing is written on it and the chain comes out exactly as without the guess."""

from __future__ import annotations

import pytest
from tortoise.transactions import in_transaction

from tests.conftest import SECRET
from tests.sql_statements import statement_log
from tidings.core.audit import log, record
from tidings.core.audit.verify import verify_chain
from tidings.core.models import AuditEntry

TAIL_READ = "SELECT id, hash FROM audit_entries"


class Rollback(Exception):
    pass


async def test_every_wrong_guess_falls_back_and_the_chain_verifies(db: str) -> None:
    await record("t.one")
    stale = log._TAIL.guess
    await record("t.two")  # as another process would: the guess below does not know it
    log._TAIL.guess = stale
    await record("t.three")
    with pytest.raises(Rollback):
        async with in_transaction():
            await record("t.rolled-back")
            raise Rollback
    await record("t.four")  # the guess names the rolled-back entry
    log._TAIL.guess = (10_000_000, "f" * 64)
    await record("t.five")
    log._TAIL.guess = None
    await record("t.six")
    entries = await AuditEntry.all().order_by("id")
    assert [e.action for e in entries] == ["t.one", "t.two", "t.three", "t.four", "t.five", "t.six"]
    assert [e.id for e in entries] == list(range(entries[0].id, entries[0].id + 6))
    assert [e.prev_hash for e in entries[1:]] == [e.hash for e in entries[:-1]]
    assert (await verify_chain(SECRET)).ok


async def test_a_right_guess_skips_the_read_of_the_tail(db: str) -> None:
    await record("t.first")
    with statement_log() as statements:
        await record("t.second")
    reads = [s for s in statements.statements if s.startswith(TAIL_READ)]
    if db.startswith("postgres"):
        assert reads == []
    else:  # SQLite has one writer and no guess
        assert len(reads) == 1
    assert (await verify_chain(SECRET)).ok


async def test_a_genesis_guess_holds_on_an_empty_log_only(db: str) -> None:
    log.chain_emptied()  # as after the tables are emptied: right here
    with statement_log() as statements:
        await record("t.first")
    reads = [s for s in statements.statements if s.startswith(TAIL_READ)]
    assert reads == [] if db.startswith("postgres") else len(reads) == 1
    log.chain_emptied()  # wrong now: the log holds an entry, so the tail is read
    await record("t.second")
    entries = await AuditEntry.all().order_by("id")
    assert [e.action for e in entries] == ["t.first", "t.second"]
    assert entries[1].prev_hash == entries[0].hash
    assert (await verify_chain(SECRET)).ok

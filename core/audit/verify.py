"""Walking the chain: `tidings audit verify`.

Entries are read by id in keyset batches (memory stays constant however long the log), each
hash is recomputed from the stored columns, and each entry must follow its predecessor: the
next id (ids are gapless, core/audit/log.py) and a `prev_hash` equal to that entry's hash.
The first entry is id 1 after GENESIS, or, once pruning has run, the entry after the newest
checkpoint, whose `prev_hash` must be the checkpoint's hash. Every checkpoint's signature is
checked first: one that does not verify was not written by pruning, and fails the run.

What this cannot see: entries removed from the end of the log leave no trace in what
remains (the last entry is simply earlier). Keep `verify`'s summary (the last id and hash)
somewhere else to compare with the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tidings.core.audit.chain import GENESIS, HASHED_COLUMNS, entry_hash
from tidings.core.audit.checkpoints import CheckpointSigner
from tidings.core.models import AuditCheckpoint, AuditEntry

Progress = Callable[[int, int], None]

_COLUMNS = HASHED_COLUMNS


@dataclass(frozen=True)
class Broken:
    """The first thing wrong. `entry_id`: the entry where the chain breaks (None when a
    checkpoint is at fault); `checkpoint_id`: a forged checkpoint's id."""

    reason: str
    entry_id: int | None = None
    checkpoint_id: int | None = None

    def describe(self) -> str:
        if self.checkpoint_id is not None:
            return f"checkpoint {self.checkpoint_id}: {self.reason}"
        return f"entry {self.entry_id}: {self.reason}"


@dataclass(frozen=True)
class Verification:
    """The outcome: how many entries were checked, where the walk started, the last entry
    seen (id and hash, worth keeping to compare with the next run), and what broke."""

    count: int
    checkpoint: AuditCheckpoint | None
    last_id: int | None
    last_hash: str | None
    broken: Broken | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def _hash_of(row: tuple) -> str:
    return entry_hash(**dict(zip(_COLUMNS, row, strict=True)))


async def _start(signer: CheckpointSigner) -> tuple[AuditCheckpoint | None, Broken | None]:
    """The newest checkpoint, once every checkpoint's signature checks out."""
    newest: AuditCheckpoint | None = None
    last = 0
    while True:
        # Few rows (pruning keeps one), read in pages all the same.
        batch = await AuditCheckpoint.filter(id__gt=last).order_by("id").limit(500)
        for checkpoint in batch:
            if not signer.valid(checkpoint.entry_id, checkpoint.entry_hash, checkpoint.signature):
                return None, Broken(
                    "its signature is not valid (the checkpoint was forged or altered)",
                    checkpoint_id=checkpoint.id,
                )
            if newest is None or checkpoint.entry_id > newest.entry_id:
                newest = checkpoint
        if len(batch) < 500:
            return newest, None
        last = batch[-1].id


def _check(row: tuple, prev_id: int, prev_hash: str, before: str, stored_hash: str) -> str | None:
    """Why this entry does not follow (prev_id, prev_hash), or None when it does. `before`
    names what the predecessor's hash is ("entry 6's hash", "the checkpoint's hash")."""
    entry_id, claimed_prev = row[0], row[-1]
    if entry_id != prev_id + 1:
        missing = (
            f"entry {prev_id + 1} is missing"
            if entry_id == prev_id + 2
            else f"entries {prev_id + 1} to {entry_id - 1} are missing"
        )
        return f"{missing} (removed)"
    if claimed_prev != prev_hash:
        return (
            f"its prev_hash does not match {before} "
            "(an entry before it was removed, reordered or rewritten)"
        )
    if _hash_of(row) != stored_hash:
        return "its hash does not match its columns (the entry was changed)"
    return None


async def verify_chain(
    secret_key: str, *, batch_size: int = 2000, progress: Progress | None = None
) -> Verification:
    """Check the whole chain after the newest checkpoint; stop at the first break."""
    checkpoint, broken = await _start(CheckpointSigner(secret_key))
    if broken is not None:
        return Verification(0, None, None, None, broken)
    prev_id, prev_hash = (0, GENESIS)
    if checkpoint is not None:
        prev_id, prev_hash = checkpoint.entry_id, checkpoint.entry_hash
    newest = await AuditEntry.all().order_by("-id").limit(1).values_list("id", flat=True)
    total = max(0, int(newest[0]) - prev_id) if newest else 0
    before = "the checkpoint's hash" if checkpoint else "GENESIS (the chain's start)"
    count = 0
    after = prev_id
    while True:
        rows = (
            await AuditEntry.filter(id__gt=after)
            .order_by("id")
            .limit(batch_size)
            .values_list(*_COLUMNS, "hash")
        )
        for row in rows:
            columns, stored = row[:-1], row[-1]
            reason = _check(columns, prev_id, prev_hash, before, stored)
            if reason is not None:
                last = prev_id or None
                return Verification(count, checkpoint, last, prev_hash, Broken(reason, row[0]))
            prev_id, prev_hash = row[0], stored
            before = f"entry {prev_id}'s hash"
            count += 1
        if progress is not None:
            progress(count, total)
        if len(rows) < batch_size:
            break
        after = rows[-1][0]
    return Verification(count, checkpoint, prev_id or None, prev_hash, None)

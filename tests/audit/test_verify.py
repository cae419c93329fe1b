"""`verify_chain`: an intact chain verifies; a changed, removed or reordered entry (plain
SQL on the table) or a forged checkpoint is named, and nothing after it is trusted."""

from __future__ import annotations

from tests.audit.tamper import seed, sql, swap_positions
from tests.conftest import SECRET
from tidings.core.audit import GENESIS, record
from tidings.core.audit.checkpoints import CheckpointSigner
from tidings.core.audit.verify import verify_chain
from tidings.core.models import AuditCheckpoint


async def test_an_intact_chain_verifies_in_batches_with_progress(db: str) -> None:
    entries = await seed(7)
    seen: list[tuple[int, int]] = []
    result = await verify_chain(SECRET, batch_size=3, progress=lambda d, t: seen.append((d, t)))
    assert result.ok and result.broken is None
    assert (result.count, result.checkpoint) == (7, None)
    assert (result.last_id, result.last_hash) == (7, entries[-1].hash)
    assert seen == [(3, 7), (6, 7), (7, 7)]


async def test_an_empty_log_verifies(db: str) -> None:
    result = await verify_chain(SECRET)
    assert result.ok and result.count == 0 and result.last_id is None
    assert result.last_hash == GENESIS


async def test_a_changed_detail_names_that_entry(db: str) -> None:
    await seed(6)
    await sql("""UPDATE audit_entries SET detail = '{"fields":["phone"],"n":3}' WHERE id = 4""")
    result = await verify_chain(SECRET, batch_size=2)
    assert not result.ok and result.broken is not None
    assert result.broken.entry_id == 4
    assert "hash does not match its columns" in result.broken.reason
    assert result.count == 3  # entries 1-3 verified before it


async def test_a_changed_actor_or_time_is_seen_too(db: str) -> None:
    await seed(3)
    await sql("UPDATE audit_entries SET actor_kind = 'system', actor_id = NULL WHERE id = 2")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 2
    assert "changed" in result.broken.reason


async def test_a_removed_middle_entry_names_the_next_one(db: str) -> None:
    await seed(6)
    await sql("DELETE FROM audit_entries WHERE id = 3")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 4
    assert result.broken.reason == "entry 3 is missing (removed)"
    assert result.broken.describe() == "entry 4: entry 3 is missing (removed)"


async def test_removed_entries_at_the_start_without_a_checkpoint(db: str) -> None:
    await seed(5)
    await sql("DELETE FROM audit_entries WHERE id <= 2")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 3
    assert result.broken.reason == "entries 1 to 2 are missing (removed)"


async def test_renumbering_after_a_removal_breaks_the_link(db: str) -> None:
    await seed(5)
    await sql("DELETE FROM audit_entries WHERE id = 3")
    await sql("UPDATE audit_entries SET id = 3 WHERE id = 4")
    await sql("UPDATE audit_entries SET id = 4 WHERE id = 5")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 3
    assert "prev_hash does not match entry 2's hash" in result.broken.reason


async def test_two_swapped_entries_name_the_first(db: str) -> None:
    await seed(5)
    await swap_positions(2, 3)
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 2
    assert "prev_hash does not match entry 1's hash" in result.broken.reason
    assert "reordered" in result.broken.reason


async def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(db: str) -> None:
    entries = await seed(4)
    # Whoever rewrites entry 2 and gives it a hash of its own (here: entry 4's, moved)...
    await sql("DELETE FROM audit_entries WHERE id = 4")
    await sql(f"UPDATE audit_entries SET hash = '{entries[3].hash}' WHERE id = 2")
    result = await verify_chain(SECRET)
    # ... fails at entry 2 (its columns) even before entry 3's link.
    assert result.broken is not None and result.broken.entry_id == 2


async def test_the_first_entry_must_follow_genesis(db: str) -> None:
    await seed(2)
    await sql(f"UPDATE audit_entries SET prev_hash = '{'1' * 64}' WHERE id = 1")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 1
    assert "GENESIS" in result.broken.reason


async def test_a_forged_checkpoint_is_named(db: str) -> None:
    entries = await seed(5)
    await sql("DELETE FROM audit_entries WHERE id <= 3")
    # Whoever deletes entries cannot sign the checkpoint that would cover it up.
    forged = await AuditCheckpoint.create(
        entry_id=3, entry_hash=entries[2].hash, signature="0" * 64
    )
    result = await verify_chain(SECRET)
    assert result.broken is not None
    assert (result.broken.checkpoint_id, result.broken.entry_id) == (forged.id, None)
    assert result.broken.describe().startswith(f"checkpoint {forged.id}: its signature")


async def test_a_checkpoint_signed_under_another_secret_is_forged(db: str) -> None:
    entries = await seed(3)
    other = CheckpointSigner("another-secret-key-" + "z" * 32)
    await AuditCheckpoint.create(
        entry_id=1, entry_hash=entries[0].hash, signature=other.sign(1, entries[0].hash)
    )
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.checkpoint_id is not None


async def test_a_valid_checkpoint_is_where_the_walk_starts(db: str) -> None:
    entries = await seed(5)
    signer = CheckpointSigner(SECRET)
    await sql("DELETE FROM audit_entries WHERE id <= 2")
    checkpoint = await AuditCheckpoint.create(
        entry_id=2, entry_hash=entries[1].hash, signature=signer.sign(2, entries[1].hash)
    )
    result = await verify_chain(SECRET)
    assert result.ok and result.count == 3
    assert result.checkpoint is not None and result.checkpoint.id == checkpoint.id
    # An altered checkpoint (pointing past more entries) no longer verifies.
    await sql(f"UPDATE audit_checkpoints SET entry_id = 4 WHERE id = {checkpoint.id}")
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.checkpoint_id == checkpoint.id


async def test_the_first_entry_after_a_checkpoint_must_link_to_it(db: str) -> None:
    entries = await seed(5)
    signer = CheckpointSigner(SECRET)
    await sql("DELETE FROM audit_entries WHERE id <= 3")
    # A genuine checkpoint, but older than the deletion: entry 3 is missing after it.
    await AuditCheckpoint.create(
        entry_id=2, entry_hash=entries[1].hash, signature=signer.sign(2, entries[1].hash)
    )
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 4
    assert result.broken.reason == "entry 3 is missing (removed)"
    # A checkpoint whose hash is not what the first remaining entry follows.
    await sql("DELETE FROM audit_checkpoints")
    await AuditCheckpoint.create(
        entry_id=3, entry_hash=entries[0].hash, signature=signer.sign(3, entries[0].hash)
    )
    result = await verify_chain(SECRET)
    assert result.broken is not None and result.broken.entry_id == 4
    assert "the checkpoint's hash" in result.broken.reason


async def test_entries_appended_after_verification_extend_it(db: str) -> None:
    await seed(2)
    assert (await verify_chain(SECRET)).count == 2
    await record("worker.start")
    result = await verify_chain(SECRET)
    assert result.ok and result.count == 3 and result.last_id == 3

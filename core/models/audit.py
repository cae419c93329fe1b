"""The audit log: append-only, hash-chained entries, and the signed checkpoints pruning leaves."""

from tortoise import fields
from tortoise.models import Model


class AuditEntry(Model):
    """One thing someone did or read, never updated and deleted only by retention pruning.

    Pruning goes oldest first, behind a signed checkpoint. Ids, never objects: an entry outlives
    what it names, and it holds no personal data value and no message content."""

    # The position in the chain: entries are appended under a lock, so ids are gapless in
    # commit order and the chain is walked by id.
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    action = fields.CharField(max_length=64)
    # "staff", "api_key", "customer" or "system"; the id is null for "system".
    actor_kind = fields.CharField(max_length=16)
    actor_id = fields.UUIDField(null=True)
    customer_id = fields.UUIDField(null=True)
    # Other ids the entry is about: {"message": "<uuid>", "grant": "<uuid>", ...}.
    targets = fields.JSONField(default=dict)
    # What happened, without personal data values: {"fields": ["email"], "operation": "..."}.
    detail = fields.JSONField(default=dict)
    request_id = fields.CharField(max_length=64, null=True)
    ip = fields.CharField(max_length=64, null=True)
    prev_hash = fields.CharField(max_length=64)
    hash = fields.CharField(max_length=64, unique=True)

    class Meta:
        table = "audit_entries"
        indexes = (("customer_id", "id"), ("actor_id", "id"), ("action", "id"), ("at",))

    def __repr__(self) -> str:
        return f"<AuditEntry {self.id} {self.action}>"


class AuditCheckpoint(Model):
    """Where verification may start once older entries are pruned.

    It holds the last pruned entry's id and hash, signed (HMAC) under a key derived from the
    secret key."""

    id = fields.BigIntField(primary_key=True)
    entry_id = fields.BigIntField()
    entry_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField(auto_now_add=True)
    signature = fields.CharField(max_length=64)

    class Meta:
        table = "audit_checkpoints"

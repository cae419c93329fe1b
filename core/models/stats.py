"""The delivery stats' rollups and the log of changes not yet folded into them.

A trigger on `deliveries` (core/stats/triggers.py) writes, for every statement that inserts,
updates or deletes deliveries, the change it makes to each group's counts into
`stats_deltas`; writers never touch a shared rollup row, so they never wait on each other.
The fold (core/stats/fold.py) moves the deltas into the rollups, one folder at a time. A
query reads the rollups and the deltas not yet folded in one statement, so its answer is
always exactly what a scan of the deliveries would give.

Buckets are UTC epoch seconds of the start of a day, an hour or a quarter hour. Absent
dimensions are stored as "" (a NULL would defeat the unique keys the upserts rely on).
"""

from tortoise import fields
from tortoise.models import Model


class StatsCounts(Model):
    """The counted columns, in the order of core/stats/rows.py COUNTS."""

    bucket = fields.BigIntField()
    category = fields.CharField(max_length=64)
    channel = fields.CharField(max_length=64)
    tier = fields.CharField(max_length=16)
    reason = fields.CharField(max_length=32)
    attempted = fields.BigIntField(default=0)
    suppressed = fields.BigIntField(default=0)
    deferred = fields.BigIntField(default=0)
    sent = fields.BigIntField(default=0)
    delivered = fields.BigIntField(default=0)
    unconfirmed = fields.BigIntField(default=0)
    failed = fields.BigIntField(default=0)
    bounced = fields.BigIntField(default=0)
    complained = fields.BigIntField(default=0)
    opened = fields.BigIntField(default=0)
    clicked = fields.BigIntField(default=0)
    converted = fields.BigIntField(default=0)
    unsubscribed = fields.BigIntField(default=0)
    # In ten-thousandths, as an integer: SQLite sums decimals as floats, integers exactly.
    revenue = fields.BigIntField(default=0)

    class Meta:
        abstract = True


class StatsDelta(StatsCounts):
    """A change to one group's counts, written by the deliveries trigger, not yet folded."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.UUIDField()

    class Meta:
        table = "stats_deltas"
        indexes = (("bucket",),)  # a query reads the unfolded deltas of its period


class StatsQuarter(StatsCounts):
    """Counts per quarter hour and message: the edges of odd time zones, and MESSAGE."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.UUIDField()

    class Meta:
        table = "stats_quarters"
        unique_together = (("bucket", "message_id", "category", "channel", "tier", "reason"),)


class StatsHour(StatsCounts):
    """Counts per UTC hour."""

    id = fields.BigIntField(primary_key=True)

    class Meta:
        table = "stats_hours"
        unique_together = (("bucket", "category", "channel", "tier", "reason"),)


class StatsDay(StatsCounts):
    """Counts per UTC day."""

    id = fields.BigIntField(primary_key=True)

    class Meta:
        table = "stats_days"
        unique_together = (("bucket", "category", "channel", "tier", "reason"),)


class StatsHourLean(StatsCounts):
    """Counts per UTC hour without tier and reason (both ""): what most queries group by
    (category, channel, day) in a twentieth of the rows."""

    id = fields.BigIntField(primary_key=True)

    class Meta:
        table = "stats_hours_lean"
        unique_together = (("bucket", "category", "channel", "tier", "reason"),)


class StatsDayLean(StatsCounts):
    """Counts per UTC day without tier and reason (both "")."""

    id = fields.BigIntField(primary_key=True)

    class Meta:
        table = "stats_days_lean"
        unique_together = (("bucket", "category", "channel", "tier", "reason"),)


class StatsPruned(StatsCounts):
    """What retention pruning deleted, as counts: deliveries gone, still counted.

    Each pruning batch adds the deleted deliveries' contributions here (core/services/
    retention.py), and `tidings stats rebuild` adds them back, so a rebuild after pruning
    counts what the rollups counted."""

    id = fields.BigIntField(primary_key=True)
    message_id = fields.UUIDField()

    class Meta:
        table = "stats_pruned"

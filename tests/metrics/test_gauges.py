"""The rollups' overlapping counts become a partition by status: every delivery in exactly
one status, every status present for every group (zeros included)."""

from __future__ import annotations

import pytest

from tidings.core.delivery.gauges import delivery_counts

STATUSES = {
    "queued", "suppressed", "deferred", "sent", "delivered",
    "failed", "bounced", "complained", "cancelled",
}  # fmt: skip


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        # attempted, suppressed, deferred, sent, unconfirmed, failed, bounced, complained
        (("email", None, 10, 0, 0, 7, 3, 0, 1, 1), {"queued": 3, "sent": 3, "delivered": 2,
                                                   "bounced": 1, "complained": 1}),
        (("sms", "NO_PERMISSION", 4, 4, 0, 0, 0, 0, 0, 0), {"suppressed": 4}),
        (("push", "QUIET_HOURS", 5, 0, 2, 3, 3, 0, 0, 0), {"deferred": 2, "sent": 3}),
        (("email", "REJECTED", 2, 0, 0, 0, 0, 2, 0, 0), {"failed": 2}),
        (("in_app", "ERASED", 6, 0, 0, 0, 0, 0, 0, 0), {"cancelled": 6}),
    ],
)  # fmt: skip
def test_each_delivery_stands_in_one_status(row, expected):
    counts = delivery_counts([row])
    assert {c.status for c in counts} == STATUSES
    assert {c.status: c.count for c in counts if c.count} == expected
    assert sum(c.count for c in counts) == row[2]  # attempted
    assert {(c.channel, c.reason) for c in counts} == {(row[0], row[1] or "")}

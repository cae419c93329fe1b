"""Load what the policy engine needs about many customers at once: a handful of queries per
batch, whatever its size, and plain values rather than model instances."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta

from tortoise import connections
from tortoise.expressions import Q

from tidings.core.address_hash import AddressHasher
from tidings.core.crypto import decrypt_json, decrypt_text
from tidings.core.delivery.addresses import reachable_channels
from tidings.core.delivery.claims import is_postgres
from tidings.core.delivery.suppressed import suppressed_channels
from tidings.core.enums import (
    CategoryKind,
    DeliveryReason,
    GrantStatus,
    MessageKind,
    RuleVerdict,
    Tier,
)
from tidings.core.models import Category, Customer, Device, PermissionState, Preference
from tidings.core.models.messages import Delivery
from tidings.core.policy import (
    CAP_COUNTED_STATUSES,
    Counted,
    GrantState,
    PreferenceState,
    Recipient,
    due_at,
    held_for_digest,
    local_day_bounds,
    tally,
)

# Whether a customer has a device rides along with its row: one round trip, not two. The
# devices are read as before, once for the batch (devices.customer_id has no index of its own).
_PG_CUSTOMERS = """
SELECT c.id, c.timezone, c.tier, c.email, c.phone, c.attributes, c.address_keys, c.disabled_at,
       d.customer_id IS NOT NULL
FROM customers c
LEFT JOIN (SELECT DISTINCT customer_id FROM devices WHERE customer_id = ANY($1::uuid[])) d
  ON d.customer_id = c.id
WHERE c.id = ANY($1::uuid[]) AND c.erasure_started_at IS NULL
"""
# Grants, the preference and the counted deliveries in one statement, one round trip: a row's
# first column says which it is, the others are shared as far as their types allow. Counted:
# capped categories (marketing, not required) only, as a subquery; the uncorrelated EXISTS is
# a one-time filter, so with no capped category no delivery is read.
_PG_POLICY_ROWS = """
SELECT 'g', customer_id, channel, status, source, expires_at, NULL::timestamptz, NULL::text
FROM permission_states WHERE customer_id = ANY($1::uuid[]) AND category = $2
UNION ALL
SELECT 'p', customer_id, frequency, quiet_start, quiet_end, NULL, NULL, channels::text
FROM preferences WHERE customer_id = ANY($1::uuid[]) AND category = $2
UNION ALL
SELECT 'c', d.customer_id, m.category, d.channel, NULL, d.created_at, d.not_before,
       (d.rules @> $6::text::jsonb)::text
FROM deliveries d JOIN messages m ON m.id = d.message_id
WHERE d.customer_id = ANY($1::uuid[]) AND d.status = ANY($3::text[])
  AND (d.created_at >= $4 OR d.not_before >= $4)
  AND m.category IN (SELECT key FROM categories WHERE kind = $5 AND required = FALSE)
  AND m.kind = 'send'
  AND EXISTS (SELECT 1 FROM categories WHERE kind = $5 AND required = FALSE)
"""
# Containment of this in a row's rules: the row was held for a digest (`held_for_digest`).
_DIGEST_HELD = json.dumps(
    [{"rule": DeliveryReason.DIGEST.value, "verdict": RuleVerdict.STOP.value}]
)


class _Inputs:
    """The rows one batch needs, as plain tuples, however they were fetched."""

    def __init__(self) -> None:
        self.customers: list = []
        self.with_devices: set[uuid.UUID] = set()
        self.grants: list = []  # (customer_id, channel, status, expires_at, source)
        self.preferences: list = []  # (customer_id, channels, frequency, start, end)
        self.counted: list = []  # (customer_id, category, channel, created_at, not_before, digest)


async def _fetch_orm(ids: list[uuid.UUID], category: str, window_start: datetime) -> _Inputs:
    found = _Inputs()
    found.customers = await Customer.filter(id__in=ids).values_list(
        "id", "timezone", "tier", "email", "phone", "attributes", "address_keys", "disabled_at"
    )
    found.with_devices = set(
        await Device.filter(customer_id__in=ids).distinct().values_list("customer_id", flat=True)
    )
    found.grants = await PermissionState.filter(customer_id__in=ids, category=category).values_list(
        "customer_id", "channel", "status", "expires_at", "source"
    )
    found.preferences = await Preference.filter(customer_id__in=ids, category=category).values_list(
        "customer_id", "channels", "frequency", "quiet_start", "quiet_end"
    )
    # Caps count capped (marketing, not required) deliveries in the customer's local day they
    # go out (policy/caps.py): fetch the widest window once, then filter per timezone.
    capped = list(
        await Category.filter(kind=CategoryKind.MARKETING, required=False).values_list(
            "key", flat=True
        )
    )
    rows = await Delivery.filter(
        Q(created_at__gte=window_start) | Q(not_before__gte=window_start),
        customer_id__in=ids,
        status__in=list(CAP_COUNTED_STATUSES),
        message__category__in=capped,
        message__kind=MessageKind.SEND.value,  # a confirmation mail is no marketing
    ).values_list(
        "customer_id", "message__category", "channel", "created_at", "not_before", "rules"
    )
    found.counted = [(*row[:5], held_for_digest(_json(row[5]) or [])) for row in rows]
    return found


async def _fetch_pg(ids: list[uuid.UUID], category: str, window_start: datetime) -> _Inputs:
    """The same inputs as raw SQL on the driver, in two queries (devices ride with the
    customers; grants, preferences and counted deliveries share one): a fan-out runs them
    for every batch, and a send to one customer waits for each round trip; the ORM's query
    building and per-value conversion would cost more than the queries."""
    conn = connections.get("default")

    async def fetch(sql: str, *values: object) -> list:
        return (await conn.execute_query(sql, list(values)))[1]

    found = _Inputs()
    rows = await fetch(_PG_CUSTOMERS, ids)
    found.customers = [tuple(r[:8]) for r in rows]
    found.with_devices = {r[0] for r in rows if r[8]}
    statuses = [status.value for status in CAP_COUNTED_STATUSES]
    marketing = CategoryKind.MARKETING.value
    for kind, cid, a, b, c, at, not_before, text in await fetch(
        _PG_POLICY_ROWS, ids, category, statuses, window_start, marketing, _DIGEST_HELD
    ):
        if kind == "g":  # channel, status, source, expires_at
            found.grants.append((cid, a, b, at, c))
        elif kind == "p":  # frequency, quiet_start, quiet_end, channels
            found.preferences.append((cid, _json(text), a, b, c))
        else:  # category, channel, created_at, not_before, held for a digest
            found.counted.append((cid, a, b, at, not_before, text == "true"))
    return found


def _opened(rows: list) -> list:
    """Customer rows with email and phone decrypted (core/crypto), and the attributes where
    `address_keys` says some hold an address: otherwise no channel can find one there, and
    nothing else here reads them."""
    return [
        (
            cid,
            timezone,
            tier,
            decrypt_text(email, "customers", "email", cid),
            decrypt_text(phone, "customers", "phone", cid),
            decrypt_json(attributes, "customers", "attributes", cid) if keys is not None else None,
            disabled,
        )
        for cid, timezone, tier, email, phone, attributes, keys, disabled in rows
    ]


def _json(value: object) -> object:
    return json.loads(value) if isinstance(value, str | bytes) else value


async def load_recipients(
    customer_ids: Sequence[uuid.UUID],
    category: str,
    now: datetime,
    hasher: AddressHasher | None = None,
) -> dict[uuid.UUID, Recipient]:
    """Policy inputs for these customers, for one category. Six queries (two on PostgreSQL),
    and one more for the suppressed addresses among them when `hasher` is given (the app always
    gives it; without one, no address counts as suppressed).

    Equal inputs share one frozen object (grant states, preferences, address sets): a batch
    of thousands of customers holds a handful of distinct values, built once."""
    ids = list(dict.fromkeys(customer_ids))
    if not ids:
        return {}
    window_start = now - timedelta(hours=38)
    fetch = _fetch_pg if is_postgres() else _fetch_orm
    found = await fetch(ids, category, window_start)
    found.customers = _opened(found.customers)
    suppressed = (
        await suppressed_channels(hasher, [(r[0], r[3], r[4], r[5]) for r in found.customers])
        if hasher is not None
        else {}
    )

    grant_states: dict[tuple, GrantState] = {}
    grants: dict[uuid.UUID, dict[tuple[str, str], GrantState]] = defaultdict(dict)
    for customer_id, channel, status, expires_at, source in found.grants:
        # The source matters to a decision only where the grant stops it (explained by it).
        why = source if status != GrantStatus.GRANTED else None
        state = grant_states.get((status, expires_at, why))
        if state is None:
            state = grant_states[(status, expires_at, why)] = GrantState(
                status=GrantStatus(status), expires_at=expires_at, source=why
            )
        grants[customer_id][(channel, category)] = state
    preference_states: dict[tuple, PreferenceState] = {}
    preferences: dict[uuid.UUID, PreferenceState] = {}
    for customer_id, channels, frequency, quiet_start, quiet_end in found.preferences:
        key = (tuple(channels), frequency, quiet_start, quiet_end)
        preference = preference_states.get(key)
        if preference is None:
            preference = preference_states[key] = PreferenceState(
                channels=key[0], frequency=frequency, quiet_start=quiet_start, quiet_end=quiet_end
            )
        preferences[customer_id] = preference
    counted: dict[uuid.UUID, list[Counted]] = defaultdict(list)
    for customer_id, cat, channel, created_at, not_before, digest in found.counted:
        counted[customer_id].append(
            Counted(cat, channel, due_at(created_at, not_before), bool(digest))
        )

    recipients: dict[uuid.UUID, Recipient] = {}
    days: dict[str, tuple[datetime, datetime]] = {}
    address_sets: dict[tuple, frozenset[str]] = {}
    for customer_id, timezone, tier, email, phone, attributes, disabled in found.customers:
        sent_today = 0
        by_category: dict[str, int] = {}
        if customer_id in counted:
            if timezone not in days:
                days[timezone] = local_day_bounds(timezone, now)
            sent_today, by_category = tally(counted[customer_id], *days[timezone])
        has_device = customer_id in found.with_devices
        if attributes:
            addresses = reachable_channels(customer_id, email, phone, has_device, attributes)
        else:
            shape = (bool(email), bool(phone), has_device)
            addresses = address_sets.get(shape)  # type: ignore[assignment]
            if addresses is None:
                addresses = address_sets[shape] = reachable_channels(
                    customer_id, email, phone, has_device, {}
                )
        recipients[customer_id] = Recipient(
            customer_id=str(customer_id),
            timezone=timezone,
            tier=Tier(tier),
            addresses=addresses,
            grants=grants.get(customer_id, {}),
            preference=preferences.get(customer_id),
            sent_today=sent_today,
            sent_today_by_category=by_category,
            suppressed=suppressed.get(customer_id, {}),
            disabled=disabled is not None,
        )
    return recipients

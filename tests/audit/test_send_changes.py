"""Sends and their expansion, suppressions, complaints, confirmed opt-in, the tier policy."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from tests.audit.support import actor, assert_no_pii, count, post, request_id, since
from tests.conftest import Api, data
from tests.core.support import admin, create_category, create_customer, raw_id
from tests.delivery.support import SEND, grant, rows
from tidings.core.delivery.expansion import expand_due
from tidings.core.delivery.tier_audit import TIER_POLICY, policy_detail, record_tier_policy
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import Tier
from tidings.core.models import Category, PermissionEntry
from tidings.core.policy import DEFAULT_TIER_POLICIES, TierPolicy
from tidings.core.services.bounces import BounceSuppressor
from tidings.core.services.complaints import withdraw_for_complaint
from tidings.schema.ids import to_global_id

LIFT = """
mutation($input: LiftSuppressionInput!) { liftSuppression(input: $input) { errors { code } } }
"""


def send_variables(category: str, to: dict) -> dict:
    return {
        "i": {
            "idempotencyKey": f"k-{secrets.token_hex(6)}",
            "category": category,
            "to": to,
            "content": {"title": "Secret sale", "body": "Only for you"},
        }
    }


async def test_a_direct_send_and_a_tier_send_with_its_expansion(api: Api) -> None:
    staff_id, token = await admin(api)
    await create_category(api, token, "orders", kind="TRANSACTIONAL", defaultChannels=["in_app"])
    customers = [await create_customer(api, token, tier="POTENTIAL") for _ in range(3)]
    before = await count()
    direct = await post(
        api, SEND, token, send_variables("orders", {"customerIds": [c["id"] for c in customers]})
    )
    one = await post(api, SEND, token, send_variables("orders", {"customerId": customers[0]["id"]}))
    tier = await post(api, SEND, token, send_variables("orders", {"tier": "POTENTIAL"}))
    sent, sent_one, sent_tier = await since(before)
    for entry, response in ((sent, direct), (sent_one, one), (sent_tier, tier)):
        assert entry.action == "message.send" and actor(entry) == f"staff:{staff_id}"
        assert entry.request_id == request_id(response)
        message_id = data(response.json())["send"]["message"]["id"]
        assert entry.targets == {"message": str(raw_id(message_id))}
    assert sent.detail == {
        "category": "orders", "scheduled": False, "audience": "customers", "size": 3,
    }  # fmt: skip
    assert sent.customer_id is None
    assert sent_one.detail["size"] == 1
    assert sent_one.customer_id == raw_id(customers[0]["id"])
    assert sent_tier.detail == {
        "category": "orders", "scheduled": False, "audience": "tier", "tier": "POTENTIAL",
        "size": None,
    }  # fmt: skip
    before = await count()
    assert await expand_due(api.runtime.worker.tiers, datetime.now(UTC)) == 3
    (expanded,) = await since(before)
    assert expanded.action == "message.expand" and actor(expanded) == "system"
    assert expanded.targets == sent_tier.targets
    assert expanded.detail == {"category": "orders", "size": 3}
    await assert_no_pii("Secret sale", "Only for you")


async def test_a_refused_send_records_nothing(api: Api) -> None:
    _, token = await admin(api)
    before = await count()
    result = await api.gql(SEND, send_variables("missing", {"tier": "POTENTIAL"}), token)
    assert data(result)["send"]["errors"]
    assert await count() == before


async def test_bounce_suppression_its_lift_and_a_complaint(api: Api) -> None:
    staff_id, token = await admin(api)
    await create_category(api, token, "news", defaultChannels=["email"])
    customer = await create_customer(api, token, email="sup@example.com")
    customer_id = raw_id(customer["id"])
    await grant(api, token, customer["id"], "news", "email")
    sent = await post(api, SEND, token, send_variables("news", {"customerId": customer["id"]}))
    (delivery,) = await rows(data(sent.json())["send"]["message"])
    before = await count()
    async with in_transaction():
        suppression = await BounceSuppressor(api.runtime.hasher)(
            "smtp", delivery, True, datetime.now(UTC)
        )
    assert suppression is not None
    (added,) = await since(before)
    assert (added.action, actor(added), added.customer_id) == (
        "suppression.add", "system", customer_id,
    )  # fmt: skip
    assert added.targets == {"suppression": str(suppression.id), "delivery": str(delivery.id)}
    assert added.detail == {"channel": "email", "reason": "HARD_BOUNCE", "provider": "smtp"}

    reason = "customer sup@example.com called"
    lifted = await post(
        api,
        LIFT,
        token,
        {"input": {"id": to_global_id("Suppression", suppression.id), "reason": reason}},
    )
    (lift,) = await since(before + 1)
    assert lift.action == "suppression.lift" and actor(lift) == f"staff:{staff_id}"
    assert lift.targets == {"suppression": str(suppression.id)}
    assert lift.detail == {"channel": "email", "reason": "HARD_BOUNCE"}
    assert lift.request_id == request_id(lifted)

    before = await count()
    assert await withdraw_for_complaint("smtp", delivery, datetime.now(UTC)) == 1
    (complaint,) = await since(before)
    assert complaint.action == "consent.withdraw" and actor(complaint) == "system"
    assert complaint.customer_id == customer_id
    assert complaint.detail == {
        "channel": "email", "category": "news", "status": "WITHDRAWN", "source": "complaint",
    }  # fmt: skip
    await assert_no_pii("sup@example.com", reason)


async def test_confirmed_opt_in_records_pending_then_grant(api: Api) -> None:
    staff_id, token = await admin(api)
    await create_category(api, token, "promos", defaultChannels=["email"])
    await Category.filter(key="promos").update(confirm_email=True)
    customer = await create_customer(api, token, email="coi@example.com")
    customer_id = raw_id(customer["id"])
    before = await count()
    await grant(api, token, customer["id"], "promos", "email")
    pending = [e for e in await since(before) if e.action.startswith("consent.")]
    assert [e.action for e in pending] == ["consent.pending"]
    assert actor(pending[0]) == f"staff:{staff_id}"
    entry = await PermissionEntry.get(id=pending[0].targets["entry"])
    before = await count()
    await api.runtime.services.consent.confirm(customer_id, entry.id, {"ip": "198.51.100.4"})
    (confirmed,) = await since(before)
    assert confirmed.action == "consent.grant" and actor(confirmed) == f"customer:{customer_id}"
    assert confirmed.detail["status"] == "GRANTED" and confirmed.customer_id == customer_id
    await assert_no_pii("coi@example.com", "198.51.100.4")


async def test_the_tier_policy_is_recorded_when_it_changes(api: Api) -> None:
    before = await count()
    assert await record_tier_policy(TierPolicies())
    assert not await record_tier_policy(TierPolicies())  # a restart with the same setting
    changed = TierPolicies(
        {**DEFAULT_TIER_POLICIES, Tier.ORDINARY: TierPolicy("REALTIME", 7, None)}
    )
    assert await record_tier_policy(changed)
    assert await record_tier_policy(TierPolicies())  # and back
    entries = await since(before)
    assert [e.action for e in entries] == [TIER_POLICY] * 3
    assert {actor(e) for e in entries} == {"system"}
    assert entries[0].detail == policy_detail(TierPolicies()) == entries[2].detail
    assert entries[1].detail["ORDINARY"] == {
        "marketing_frequency": "REALTIME", "daily_cap": 7, "category_daily_cap": None,
        "digest_hour": 9, "weekly_digest_weekday": 0,
    }  # fmt: skip

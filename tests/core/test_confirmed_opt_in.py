"""Confirmed opt-in (issue 11, item 4): an email grant starts PENDING, a confirmation mail goes
out through the real worker and a local SMTP server, and its link confirms exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, data
from tests.core import test_policy as policy
from tests.core.support import raw_id
from tests.delivery import conftest as delivery
from tests.delivery.conftest import deliveries, send
from tidings.core.enums import (
    DeliveryStatus,
    EmailConfirmation,
    GrantStatus,
    MessageKind,
    Role,
    Tier,
)
from tidings.core.links import LinkKind
from tidings.core.models import Category, Customer, PermissionEntry, PermissionState
from tidings.core.models.messages import Delivery, Message
from tidings.core.policy import GrantState, effective_grant_status, recheck_queued
from tidings.core.services.confirmation import ConfirmOutcome
from tidings.core.services.consent import GrantRequest
from tidings.core.viewer import Viewer, ViewerKind
from tidings.schema.ids import to_global_id

# The delivery tests' fixtures: the app wired to a local SMTP server.
smtp = delivery.smtp
mail_api = delivery.mail_api

EVIDENCE = {"at": "2026-11-30T12:00:00+00:00", "ip": "203.0.113.9", "userAgent": "Firefox"}


async def marketing_customer(api: Api) -> tuple[str, str]:
    """An admin token, and the customer's raw id (the API's global id decoded)."""
    token, customer = await delivery.marketing_customer(api)
    return token, str(raw_id(customer))


def gid(customer: str) -> str:
    return to_global_id("Customer", uuid.UUID(customer))


async def confirm_category(key: str = "promos") -> None:
    await Category.filter(key=key).update(confirm_email=True)


async def grant(api: Api, customer: str, channel: str = "email", **extra: Any) -> PermissionEntry:
    admin, _ = await api.staff(Role.ADMIN)
    viewer = Viewer(ViewerKind.STAFF, admin, Role.ADMIN)
    request = GrantRequest(channel, "promos", "signup_form", {"form": "footer"}, **extra)
    return await api.runtime.services.consent.grant(viewer, uuid.UUID(customer), request)


async def state(customer: str, channel: str = "email") -> PermissionState:
    return await PermissionState.get(customer_id=customer, channel=channel, category="promos")


async def confirmation_deliveries(customer: str) -> list[Delivery]:
    return await Delivery.filter(
        customer_id=customer, message__kind=MessageKind.CONFIRMATION.value
    ).order_by("id")


async def test_pending_grant_mails_a_confirmation_that_confirms_once(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    await confirm_category()
    await Customer.filter(id=customer).update(locale="zh-CN")

    pending = await grant(api, customer, expires_at=datetime.now(UTC) + timedelta(days=30))
    assert pending.status is GrantStatus.PENDING
    assert pending.granted_at is None
    assert (await state(customer)).status is GrantStatus.PENDING
    [queued] = await confirmation_deliveries(customer)
    assert (queued.channel, queued.status) == ("email", DeliveryStatus.QUEUED)
    assert {rule["verdict"] for rule in queued.rules} == {"skip"}

    # A PENDING grant permits nothing.
    message = await send(api, token, gid(customer), "sale-1")
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["reason"]) == ("SUPPRESSED", "NO_PERMISSION")
    explained = data(
        await api.gql(
            """query($c: ID!) { explainDelivery(customerId: $c, category: "promos",
              channel: "email") { status reason rules { rule verdict detail } } }""",
            {"c": gid(customer)},
            token,
        )
    )["explainDelivery"]
    assert explained["reason"] == "NO_PERMISSION"
    assert explained["rules"][0]["detail"] == "awaiting confirmation"

    # The worker sends the confirmation mail, though no consent is granted yet.
    assert await api.runtime.worker.run_once() == 1
    [mail] = smtp.received
    assert mail.rcpt_tos == ["ann@example.com"]
    assert "请确认" in mail.message["Subject"]
    assert mail.message["List-Unsubscribe"] is None  # nothing to unsubscribe from yet
    text = mail.message.get_body(("plain",)).get_content()
    assert "Promotions" in text
    prefix = api.runtime.services.links.public_url + "/confirm/"
    url = next(word for word in text.split() if word.startswith(prefix))
    html = mail.message.get_body(("html",)).get_content()
    assert f'href="{url}"' in html
    claims = api.runtime.services.links.verify(url.removeprefix(prefix), LinkKind.CONFIRM)
    assert (claims.customer_id, claims.entry_id) == (uuid.UUID(customer), pending.id)
    assert (claims.category, claims.channel) == ("promos", "email")

    consent = api.runtime.services.consent
    shown = await consent.pending_entry(claims.customer_id, pending.id)
    assert shown is not None
    assert (shown.category_name, shown.outcome) == ("Promotions", ConfirmOutcome.CONFIRMED)
    assert (await state(customer)).status is GrantStatus.PENDING  # showing changes nothing

    assert await consent.confirm(claims.customer_id, pending.id, EVIDENCE) is (
        ConfirmOutcome.CONFIRMED
    )
    current = await state(customer)
    assert current.status is GrantStatus.GRANTED
    assert current.expires_at == pending.expires_at
    granted = await PermissionEntry.get(id=current.entry_id)
    assert granted.recorded_by == f"customer:{customer}"
    assert granted.source == "signup_form"
    assert granted.granted_at is not None
    assert granted.evidence == {
        "form": "footer",
        "confirmation": EVIDENCE,
        "confirms": str(pending.id),
    }

    entries = await PermissionEntry.filter(customer_id=customer).count()
    assert await consent.confirm(claims.customer_id, pending.id, EVIDENCE) is (
        ConfirmOutcome.ALREADY_CONFIRMED
    )
    assert await PermissionEntry.filter(customer_id=customer).count() == entries
    shown = await consent.pending_entry(claims.customer_id, pending.id)
    assert shown is not None and shown.outcome is ConfirmOutcome.ALREADY_CONFIRMED

    message = await send(api, token, gid(customer), "sale-2")
    [row] = await deliveries(api, token, message)
    assert row["status"] == "QUEUED"

    # Granting again while GRANTED stays GRANTED: no new PENDING, no mail.
    again = await grant(api, customer)
    assert again.status is GrantStatus.GRANTED
    assert len(await confirmation_deliveries(customer)) == 1


async def test_withdrawn_since_is_superseded_and_unknowns_are_not_found(mail_api, smtp):
    api = mail_api
    _, customer = await marketing_customer(api)
    await confirm_category()
    pending = await grant(api, customer)
    admin, _ = await api.staff(Role.ADMIN)
    consent = api.runtime.services.consent
    await consent.withdraw(
        Viewer(ViewerKind.STAFF, admin, Role.ADMIN), uuid.UUID(customer), "email", "promos", "api"
    )
    entries = await PermissionEntry.filter(customer_id=customer).count()
    assert await consent.confirm(uuid.UUID(customer), pending.id, EVIDENCE) is (
        ConfirmOutcome.SUPERSEDED
    )
    assert await PermissionEntry.filter(customer_id=customer).count() == entries
    assert (await state(customer)).status is GrantStatus.WITHDRAWN
    assert await consent.confirm(uuid.uuid4(), pending.id, EVIDENCE) is ConfirmOutcome.NOT_FOUND
    assert await consent.confirm(uuid.UUID(customer), uuid.uuid4(), EVIDENCE) is (
        ConfirmOutcome.NOT_FOUND
    )
    assert await consent.pending_entry(uuid.uuid4(), pending.id) is None


async def test_rate_limit_one_mail_per_ten_minutes_and_old_link_confirms_latest(mail_api, smtp):
    api = mail_api
    _, customer = await marketing_customer(api)
    await confirm_category()
    first = await grant(api, customer)
    second = await grant(api, customer, expires_at=datetime.now(UTC) + timedelta(days=9))
    assert (first.status, second.status) == (GrantStatus.PENDING, GrantStatus.PENDING)
    assert len(await confirmation_deliveries(customer)) == 1  # the second is still recorded
    assert (await state(customer)).entry_id == second.id

    # The only mail names the first entry; it confirms the latest request.
    consent = api.runtime.services.consent
    assert await consent.confirm(uuid.UUID(customer), first.id, EVIDENCE) is (
        ConfirmOutcome.CONFIRMED
    )
    current = await state(customer)
    assert (current.status, current.expires_at) == (GrantStatus.GRANTED, second.expires_at)

    # Once ten minutes have passed, asking again (after a withdrawal) mails again, and the
    # newer mail supersedes an older pending link.
    await Delivery.filter(customer_id=customer).update(
        created_at=datetime.now(UTC) - timedelta(minutes=11)
    )
    admin, _ = await api.staff(Role.ADMIN)
    await consent.withdraw(
        Viewer(ViewerKind.STAFF, admin, Role.ADMIN), uuid.UUID(customer), "email", "promos", "api"
    )
    third = await grant(api, customer)
    await Delivery.filter(customer_id=customer).update(
        created_at=datetime.now(UTC) - timedelta(minutes=11)
    )
    fourth = await grant(api, customer)
    assert len(await confirmation_deliveries(customer)) == 3
    assert await consent.confirm(uuid.UUID(customer), third.id, EVIDENCE) is (
        ConfirmOutcome.SUPERSEDED
    )
    assert await consent.confirm(uuid.UUID(customer), fourth.id, EVIDENCE) is (
        ConfirmOutcome.CONFIRMED
    )


async def test_other_channels_and_plain_categories_are_never_pending(mail_api, smtp):
    api = mail_api
    _, customer = await marketing_customer(api)
    assert (await grant(api, customer)).status is GrantStatus.GRANTED  # no confirm_email
    await confirm_category()
    assert (await grant(api, customer, channel="sms")).status is GrantStatus.GRANTED
    assert await confirmation_deliveries(customer) == []


async def test_customer_without_email_is_pending_and_the_mail_is_suppressed(mail_api, smtp):
    api = mail_api
    _, customer = await marketing_customer(api)
    await Customer.filter(id=customer).update(email=None)
    await confirm_category()
    assert (await grant(api, customer)).status is GrantStatus.PENDING
    await api.runtime.worker.run_once()
    [row] = await confirmation_deliveries(customer)
    assert (row.status, row.reason) == (DeliveryStatus.SUPPRESSED, "NO_ADDRESS")
    assert smtp.received == []


async def test_callers_never_create_confirmation_messages(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    message = await send(api, token, gid(customer), "sale")
    assert (await Message.get(id=raw_id(message))).kind == MessageKind.SEND.value


@pytest.fixture
async def required_api(db: str, smtp: Any) -> Any:
    async with delivery.mail_app(db, smtp, TIDINGS_EMAIL_CONFIRMATION="required") as api:
        yield api


async def test_required_setting_applies_to_every_category(required_api, smtp):
    api = required_api
    assert api.runtime.services.consent.email_confirmation is EmailConfirmation.REQUIRED
    _, customer = await marketing_customer(api)
    assert not (await Category.get(key="promos")).confirm_email
    assert (await grant(api, customer)).status is GrantStatus.PENDING
    assert (await grant(api, customer, channel="sms")).status is GrantStatus.GRANTED
    assert await api.runtime.worker.run_once() == 1
    [mail] = smtp.received
    assert mail.message["Subject"] == "Please confirm: Promotions by email"


async def test_confirm_email_through_the_api(mail_api, smtp):
    api = mail_api
    token, customer = await marketing_customer(api)
    changed = data(
        await api.gql(
            """mutation { updateCategory(input: {key: "promos", confirmEmail: true}) {
              category { confirmEmail } errors { code } } }""",
            token=token,
        )
    )["updateCategory"]
    assert changed == {"category": {"confirmEmail": True}, "errors": []}
    created = data(
        await api.gql(
            """mutation { createCategory(input: {key: "tips", name: "Tips", kind: MARKETING})
              { category { confirmEmail } } }""",
            token=token,
        )
    )["createCategory"]
    assert created["category"] == {"confirmEmail": False}
    granted = data(
        await api.gql(
            """mutation($c: ID!) { grantPermission(input: {customerId: $c, channel: "email",
              category: "promos", source: "signup_form"}) { grant { status } errors { code } } }""",
            {"c": gid(customer)},
            token,
        )
    )["grantPermission"]
    assert granted == {"grant": {"status": "PENDING"}, "errors": []}
    grants = data(
        await api.gql(
            "query($c: ID!) { customer(id: $c) { permissionGrants { category status } } }",
            {"c": gid(customer)},
            token,
        )
    )["customer"]["permissionGrants"]
    assert grants == [{"category": "promos", "status": "PENDING"}]


# The policy engine, without a database ------------------------------------------------------


@pytest.mark.parametrize("past_expiry", [False, True])
def test_pending_permits_nothing_and_stays_pending(past_expiry):
    expires = policy.NOW - timedelta(days=1) if past_expiry else None
    grants = {("email", "promo"): GrantState(GrantStatus.PENDING, expires)}
    assert effective_grant_status(grants[("email", "promo")], policy.NOW) is GrantStatus.PENDING
    for category in (policy.marketing(), policy.marketing(required=True)):
        decision = policy.run(category, recipient=policy.customer(grants=grants))
        assert (decision.status, decision.reason) == (DeliveryStatus.SUPPRESSED, "NO_PERMISSION")
        assert [(r.verdict, r.detail) for r in decision.rules] == [
            ("stop", "awaiting confirmation")
        ]
        queued = recheck_queued(category, "email", policy.customer(grants=grants), policy.NOW)
        assert (queued.status, queued.rules[-1].detail) == (
            DeliveryStatus.SUPPRESSED,
            "awaiting confirmation",
        )
    # A transactional category needs no permission, PENDING or not.
    decision = policy.run(policy.transactional(), recipient=policy.customer(grants=grants))
    assert decision.status is DeliveryStatus.QUEUED


async def test_a_confirmation_mail_does_not_count_toward_the_categorys_cap(mail_api, smtp):
    """The mail that asks for consent is not marketing: after confirming, the customer still
    gets the category's whole daily cap."""
    api = mail_api
    token, customer = await marketing_customer(api)  # HIGH_VALUE: 3 a day per category
    await confirm_category()
    pending = await grant(api, customer)
    await api.runtime.worker.run_once()
    assert len(smtp.received) == 1  # the confirmation, sent today
    consent = api.runtime.services.consent
    assert await consent.confirm(uuid.UUID(customer), pending.id, EVIDENCE) is (
        ConfirmOutcome.CONFIRMED
    )
    cap = api.runtime.worker.tiers.for_tier(Tier.HIGH_VALUE).category_daily_cap
    for n in range(cap):
        message = await send(api, token, gid(customer), f"offer-{n}")
        [row] = await deliveries(api, token, message)
        assert (row["status"], row["reason"]) == ("QUEUED", None)
    message = await send(api, token, gid(customer), "one-too-many")
    [row] = await deliveries(api, token, message)
    assert (row["status"], row["reason"]) == ("SUPPRESSED", "FREQUENCY_CAP")

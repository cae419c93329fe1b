"""Links in every message, end to end: a marketing mail through a real aiosmtpd carries
RFC 8058 one-click unsubscribe that works against the app (GET asks, POST withdraws, once);
transactional mail carries only the preference link; in-app and push data carry the links;
a batch costs no more statements with links than without."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest

from tests.conftest import Api, data
from tests.delivery import test_push_sms as push_tests
from tests.delivery.conftest import grant, mail_app, marketing_customer, send
from tests.delivery.support import create_category, create_customer, raw_id
from tests.delivery.support import grant as grant_on
from tests.delivery.support import send as send_to
from tests.sql_statements import statement_log
from tidings.core.delivery.digest_message import combine_digest
from tidings.core.delivery.message_links import BatchLinks
from tidings.core.delivery.outbound import Prepared
from tidings.core.delivery.worker import DeliveryWorker
from tidings.core.enums import GrantStatus, Role
from tidings.core.links import LinkKind
from tidings.core.models import PermissionEntry, PermissionState
from tidings.core.models.messages import Delivery, Notification
from tidings.plugins import OutboundMessage

MAILTO = "unsubscribe@shop.example"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
FORM = {"content-type": "application/x-www-form-urlencoded"}


@pytest.fixture
async def mailto_api(db: str, smtp: Any) -> AsyncIterator[Api]:
    """The app with a real SMTP relay and TIDINGS_UNSUBSCRIBE_MAILTO set."""
    async with mail_app(db, smtp, TIDINGS_UNSUBSCRIBE_MAILTO=MAILTO) as api:
        yield api


def list_unsubscribe(mail: Any) -> list[str]:
    return re.findall(r"<([^>]+)>", str(mail["List-Unsubscribe"]))


def local_path(api: Api, url: str) -> str:
    """The app-relative path of a link under TIDINGS_PUBLIC_URL."""
    public = api.runtime.settings.public_url
    assert url.startswith(f"{public}/")
    return urlsplit(url).path


async def state(customer: str) -> GrantStatus:
    row = await PermissionState.get(
        customer_id=raw_id(customer), channel="email", category="promos"
    )
    return row.status


async def test_marketing_mail_unsubscribes_in_one_post_and_get_changes_nothing(mailto_api, smtp):
    api = mailto_api
    token, customer = await marketing_customer(api)
    await grant(api, token, customer)
    await send(api, token, customer, "sale-1")
    assert await api.runtime.worker.run_once() == 1
    [received] = smtp.received
    mail = received.message

    url, mailto = list_unsubscribe(mail)
    assert url.startswith(f"{api.runtime.settings.public_url}/unsubscribe/")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    address, _, query = mailto.removeprefix("mailto:").partition("?")
    assert address == MAILTO
    mailed_token = unquote(query.removeprefix("subject=")).removeprefix("unsubscribe ")
    claims = api.runtime.links.verify(mailed_token, LinkKind.UNSUBSCRIBE)
    assert (claims.customer_id, claims.category, claims.channel) == (
        raw_id(customer),
        "promos",
        "email",
    )
    # The same links in both bodies, for a reader whose mail client shows no button.
    text = mail.get_body(("plain",)).get_content()
    assert f"Unsubscribe: {url}" in text
    [preferences] = re.findall(r"Manage your preferences: (\S+)", text)
    assert (await api.client.get(local_path(api, preferences))).status_code == 200

    entries = await PermissionEntry.filter(customer_id=raw_id(customer)).count()
    path = local_path(api, url)
    # A mail scanner prefetching the link changes nothing.
    page = await api.client.get(path)
    assert page.status_code == 200
    assert await state(customer) is GrantStatus.GRANTED

    # The mailbox provider's one-click POST: no cookie, no login.
    api.client.cookies.clear()
    posted = await api.client.post(path, data=ONE_CLICK, headers=FORM)
    assert 200 <= posted.status_code < 300
    assert await state(customer) is GrantStatus.WITHDRAWN
    latest = await PermissionEntry.filter(customer_id=raw_id(customer)).order_by("-recorded_at")
    assert latest[0].source == "one_click_unsubscribe"
    assert latest[0].recorded_by == f"customer:{raw_id(customer)}"
    assert len(latest) == entries + 1

    again = await api.client.post(path, data=ONE_CLICK, headers=FORM)
    assert 200 <= again.status_code < 300
    assert await PermissionEntry.filter(customer_id=raw_id(customer)).count() == entries + 1

    # The next marketing send is suppressed: nothing more arrives.
    await send(api, token, customer, "sale-2")
    await api.runtime.worker.run_once()
    assert len(smtp.received) == 1


async def test_transactional_mail_has_no_list_unsubscribe_only_the_preference_link(
    mailto_api, smtp
):
    api = mailto_api
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["email"])
    customer = (await create_customer(api, admin, email="bo@example.com", locale="zh-CN"))["id"]
    # A caller cannot give a transactional mail an unsubscribe link, nor its own page link.
    await send_to(
        api,
        admin,
        "receipts",
        customer,
        title="Receipt",
        body="Paid.",
        data={"unsubscribe_url": "https://evil.example/u", "preferences_url": "https://x.example"},
    )
    assert await api.runtime.worker.run_once() == 1
    [received] = smtp.received
    mail = received.message
    assert "List-Unsubscribe" not in mail and "List-Unsubscribe-Post" not in mail
    text = mail.get_body(("plain",)).get_content()
    assert "evil.example" not in text and "x.example" not in text
    [preferences] = re.findall(r"管理通知偏好: (\S+)", text)
    claims = api.runtime.links.verify(preferences.rpartition("/")[2], LinkKind.PREFERENCES)
    assert claims.customer_id == raw_id(customer)
    assert "退订" not in text


async def test_in_app_notifications_carry_the_links(api):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "promos", "MARKETING", defaultChannels=["in_app"])
    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["in_app"])
    customer = (await create_customer(api, admin, tier="HIGH_VALUE"))["id"]
    await grant_on(api, admin, customer, "promos", "in_app")
    await send_to(api, admin, "promos", customer, data={"url": "/sale"})
    await send_to(api, admin, "receipts", customer)
    assert await api.runtime.worker.run_once() == 2

    stored = {n.category: n.data for n in await Notification.all()}
    links = api.runtime.links
    promo, receipt = stored["promos"], stored["receipts"]
    assert promo["url"] == "/sale"
    for stored_data in (promo, receipt):
        path = urlsplit(stored_data["preferences_url"]).path
        claims = links.verify(path.rpartition("/")[2], LinkKind.PREFERENCES)
        assert (claims.customer_id, claims.version) == (raw_id(customer), 0)
    unsubscribe = links.verify(
        urlsplit(promo["unsubscribe_url"]).path.rpartition("/")[2], LinkKind.UNSUBSCRIBE
    )
    assert (unsubscribe.category, unsubscribe.channel) == ("promos", "in_app")
    assert "unsubscribe_url" not in receipt
    assert "unsubscribe_mailto" not in promo  # email only


async def test_a_batch_costs_the_same_statements_with_links_as_without(api):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "promos", "MARKETING", defaultChannels=["in_app"])
    customers = [(await create_customer(api, admin, tier="HIGH_VALUE"))["id"] for _ in range(4)]
    for customer in customers:
        await grant_on(api, admin, customer, "promos", "in_app")
    runtime = api.runtime
    bare = DeliveryWorker(
        runtime.registry,
        runtime.worker.tiers,
        on_change=runtime.worker.pipeline.on_change,
        templates=runtime.templates,
    )
    counts = []
    for worker in (bare, runtime.worker):
        await send_to(api, admin, "promos", {"customerIds": customers})
        with statement_log() as log:
            assert await worker.run_once() == len(customers)
        counts.append(log.tables())
    assert counts[0] == counts[1]
    with_links = {
        (n.data or {}).get("preferences_url") is not None for n in await Notification.all()
    }
    assert with_links == {False, True}


async def test_links_are_signed_once_per_batch_and_only_marketing_sends_unsubscribe(api):
    links = BatchLinks(api.runtime.links, MAILTO)
    customer = uuid.uuid4()
    common = {"customer_id": customer, "token_version": 3, "category": "promos"}
    first = links.data({"a": 1}, channel="email", marketing=True, message_kind="send", **common)
    second = links.data(None, channel="email", marketing=True, message_kind="send", **common)
    push = links.data(None, channel="push", marketing=True, message_kind="send", **common)
    assert first["a"] == 1
    assert first["preferences_url"] is second["preferences_url"] is push["preferences_url"]
    assert first["unsubscribe_url"] is second["unsubscribe_url"]
    assert push["unsubscribe_url"] != first["unsubscribe_url"]  # its own channel
    assert first["unsubscribe_mailto"].startswith(f"mailto:{MAILTO}?subject=unsubscribe%20")
    assert "unsubscribe_mailto" not in push
    confirmation = links.data(
        None, channel="email", marketing=True, message_kind="confirmation", **common
    )
    transactional = links.data(
        None, channel="email", marketing=False, message_kind="send", **common
    )
    for made in (confirmation, transactional):
        assert set(made) == {"preferences_url"}
    claims = api.runtime.links.verify(
        first["preferences_url"].rpartition("/")[2], LinkKind.PREFERENCES
    )
    assert claims.version == 3


# Push: the FCM fake of test_push_sms.py, whose fixtures these are.
rsa_key = push_tests.rsa_key
google = push_tests.google
sms_peer = push_tests.sms_peer
push_api = push_tests.push_api


async def test_marketing_push_carries_both_links_as_strings_signed_once(push_api, google):
    api = push_api
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "promos", "MARKETING", defaultChannels=["push"])
    customer = (await create_customer(api, admin, tier="HIGH_VALUE"))["id"]
    for device in (push_tests.GOOD, push_tests.OTHER):
        variables = {"i": {"customerId": customer, "platform": "ANDROID", "token": device}}
        assert (
            data(await api.gql(push_tests.REGISTER, variables, admin))["registerDevice"]["errors"]
            == []
        )
    await grant_on(api, admin, customer, "promos", "push")
    await send_to(api, admin, "promos", customer, title="Sale", body="Today", data={"n": 1})
    assert await api.runtime.worker.run_once() == 1

    sent = [request["json"]["message"]["data"] for request in google.requests]
    assert len(sent) == 2  # one per device
    first, second = sent
    assert first == second  # the same links, signed once for both devices
    assert all(isinstance(value, str) for value in first.values())
    assert first["n"] == "1"
    links = api.runtime.links
    unsubscribe = links.verify(first["unsubscribe_url"].rpartition("/")[2], LinkKind.UNSUBSCRIBE)
    assert (unsubscribe.customer_id, unsubscribe.category, unsubscribe.channel) == (
        raw_id(customer),
        "promos",
        "push",
    )
    preferences = links.verify(first["preferences_url"].rpartition("/")[2], LinkKind.PREFERENCES)
    assert preferences.customer_id == raw_id(customer)
    assert "unsubscribe_mailto" not in first


def _held(category: str, batch: BatchLinks, customer_id: uuid.UUID, marketing: bool) -> Prepared:
    message = OutboundMessage(
        delivery_id=str(uuid.uuid4()),
        message_id=str(uuid.uuid4()),
        channel="email",
        category=category,
        address="ann@example.com",
        title=category,
        body="b",
        data=batch.data(
            {},
            customer_id=customer_id,
            token_version=0,
            category=category,
            channel="email",
            marketing=marketing,
            message_kind="send",
        ),
    )
    return Prepared(
        Delivery(id=uuid.uuid4(), customer_id=customer_id, channel="email"), [message], []
    )


@pytest.mark.parametrize(
    ("categories", "withdraws"),
    [
        (["promos", "promos"], ("promos",)),
        (["promos", "news", "promos"], ("news", "promos")),
    ],
)
async def test_a_digest_unsubscribe_link_names_every_category_it_stands_for(
    api, categories, withdraws
):
    signer = api.runtime.links
    batch = BatchLinks(signer, MAILTO)
    customer_id = uuid.uuid4()
    items = [_held(category, batch, customer_id, marketing=True) for category in categories]
    [digest] = combine_digest(items, batch).outbound
    assert digest.data["preferences_url"] == items[0].outbound[0].data["preferences_url"]
    claims = signer.verify(digest.data["unsubscribe_url"].rpartition("/")[2], LinkKind.UNSUBSCRIBE)
    assert (claims.customer_id, claims.categories, claims.channel) == (
        customer_id,
        withdraws,
        "email",
    )
    mailed = unquote(digest.data["unsubscribe_mailto"].partition("subject=")[2])
    assert signer.verify(mailed.removeprefix("unsubscribe "), LinkKind.UNSUBSCRIBE) == claims


async def test_a_digest_without_marketing_items_carries_no_unsubscribe_link(api):
    batch = BatchLinks(api.runtime.links, MAILTO)
    customer_id = uuid.uuid4()
    items = [_held(category, batch, customer_id, marketing=False) for category in ("a", "b")]
    [digest] = combine_digest(items, batch).outbound
    assert "unsubscribe_url" not in digest.data and "unsubscribe_mailto" not in digest.data
    assert "preferences_url" in digest.data


async def test_one_click_on_a_digest_of_two_categories_withdraws_both(mailto_api, smtp):
    """An ordinary customer's marketing goes out as a daily digest (the default tier policy):
    the digest's one-click link withdraws every category in it, once."""
    api = mailto_api
    _, admin = await api.staff(Role.ADMIN)
    for key in ("promos", "news"):
        await create_category(api, admin, key, defaultChannels=["email"])
    customer = (await create_customer(api, admin, email="cy@example.com", timezone="UTC"))["id"]
    held = []
    for key in ("promos", "news"):
        await grant_on(api, admin, customer, key)
        held.append(await send_to(api, admin, key, customer, title=f"About {key}", key=key))
    [row] = await Delivery.filter(message_id=raw_id(held[0]["id"]))
    assert row.reason == "DIGEST"
    await api.runtime.worker.run_once(now=row.not_before + timedelta(seconds=1))

    [received] = smtp.received
    url, _ = list_unsubscribe(received.message)
    entries = await PermissionEntry.filter(customer_id=raw_id(customer)).count()
    posted = await api.client.post(local_path(api, url), data=ONE_CLICK, headers=FORM)
    assert posted.status_code == 200
    states = await PermissionState.filter(customer_id=raw_id(customer), channel="email")
    assert {(s.category, s.status) for s in states} == {
        ("promos", GrantStatus.WITHDRAWN),
        ("news", GrantStatus.WITHDRAWN),
    }
    assert await PermissionEntry.filter(customer_id=raw_id(customer)).count() == entries + 2
    again = await api.client.post(local_path(api, url), data=ONE_CLICK, headers=FORM)
    assert again.status_code == 200
    assert await PermissionEntry.filter(customer_id=raw_id(customer)).count() == entries + 2

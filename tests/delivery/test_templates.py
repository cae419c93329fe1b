"""Stored templates: refused at save time when they do not compile, chosen by the customer's
locale, autoescaped in HTML, and sandboxed (an unsafe template fails its delivery, never the
worker, and leaks nothing)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.conftest import data
from tests.delivery.support import (
    create_category,
    create_customer,
    raw_id,
    rows,
    send,
    send_payload,
)
from tidings.core.enums import DeliveryStatus, Role
from tidings.core.models.messages import Notification, Template

SET_TEMPLATE = """
mutation($i: SetTemplateInput!) { setTemplate(input: $i) {
  template { category channel locale title body html } errors { code field message } } }
"""


async def set_template(api, token, locale="en", channel="in_app", **fields: Any) -> dict:
    variables = {
        "i": {
            "category": "orders",
            "channel": channel,
            "locale": locale,
            "title": "Order {{ data.order }}",
            "body": "Hello {{ customer.name }}",
            **fields,
        }
    }
    return data(await api.gql(SET_TEMPLATE, variables, token))["setTemplate"]


def documented_last_errors() -> set[str]:
    """The `lastError` texts docs/templates.md shows for a failed render."""
    doc = (Path(__file__).parents[2] / "docs" / "templates.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| [^|]+ \| `(template: [^`]+)` \|$", doc, re.M))


async def setup(api, channels=("in_app",)):
    _, token = await api.staff(Role.ADMIN)
    await create_category(api, token, "orders", "TRANSACTIONAL", defaultChannels=list(channels))
    return token


async def test_syntax_error_is_refused_at_save_time_and_nothing_is_stored(api):
    token = await setup(api)
    for field, source in (
        ("title", "Order {{ data.order "),
        ("body", "{% if data.x %}unclosed"),
        ("html", "<p>{{ customer.name | }}</p>"),
    ):
        payload = await set_template(api, token, **{field: source})
        assert payload["template"] is None
        [error] = payload["errors"]
        assert (error["code"], error["field"]) == ("INVALID_TEMPLATE", field)
    assert await Template.all().count() == 0
    listed = data(await api.gql("{ templates { locale } }", token=token))["templates"]
    assert listed == []


async def test_send_without_content_uses_the_locale_template_with_fallback(api):
    token = await setup(api)
    for locale, greeting in (("en", "Hello"), ("zh", "你好"), ("zh-TW", "您好")):
        payload = await set_template(
            api, token, locale=locale, body=greeting + " {{ customer.name }}"
        )
        assert payload["errors"] == []
    people = {
        "zh-CN": "你好 Li",  # zh-CN → zh
        "zh-TW": "您好 Li",  # its own
        "fr-CA": "Hello Li",  # fr-CA → fr → en
        "en": "Hello Li",
    }
    ids = {}
    for locale in people:
        customer = await create_customer(api, token, name="Li", locale=locale)
        ids[customer["id"]] = locale
    message = await send(
        api, token, "orders", {"customerIds": list(ids)}, title=None, data={"order": 42}
    )
    worker = api.runtime.worker
    assert await worker.run_once() == len(people)
    assert {d.status for d in await rows(message)} == {DeliveryStatus.DELIVERED}
    notes = {str(n.customer_id): n for n in await Notification.all()}
    for global_id, locale in ids.items():
        note = notes[str(raw_id(global_id))]
        assert (note.title, note.body) == ("Order 42", people[locale]), locale


async def test_html_is_autoescaped_in_the_email(mail_api, smtp):
    api = mail_api
    token = await setup(api, channels=("email",))
    payload = await set_template(
        api,
        token,
        channel="email",
        title="Order {{ data.order }}",
        body="Item: {{ data.item }}",
        html="<p>Item: <b>{{ data.item }}</b></p>",
    )
    assert payload["errors"] == []
    customer = await create_customer(api, token, email="li@example.com")
    evil = "<script>alert('x')</script>"
    await send(api, token, "orders", customer["id"], title=None, data={"order": 7, "item": evil})
    assert await api.runtime.worker.run_once() == 1
    [mail] = smtp.received
    html = mail.message.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "<p>Item: <b>" in html  # the template's own markup is kept
    text = mail.message.get_body(("plain",)).get_content()
    body, _, footer = text.replace("\r\n", "\n").partition(
        "\n\n--\n"
    )  # the links footer follows the body
    assert body.strip() == f"Item: {evil}"  # plain text is not HTML: nothing to escape
    assert footer.startswith("Manage your preferences: http")


async def test_unsafe_attribute_access_is_refused_when_saved(api):
    """`__class__` and friends would only fail in the sandbox at send time: refused at save."""
    token = await setup(api, channels=("email",))
    for source in (
        "{{ data.__class__ }}",
        "{{ ''.__class__.__mro__ }}",
        "{{ customer.__init__.__globals__ }}",
        "{{ data.items.__self__.clear() }}",
        "{{ data['__class__'] }}",
    ):
        payload = await set_template(api, token, channel="email", body=source)
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("INVALID_TEMPLATE", "body")
        ], source
    assert await Template.all().count() == 0


async def test_a_failing_render_fails_the_delivery_not_the_worker(mail_api, smtp):
    """What is accepted may still fail to render: a `data` key the send lacks, under strict
    undefined. The delivery is FAILED, REJECTED (one of the contract's reasons) with a
    lastError naming the field, the line and the key; nothing is sent, and the worker goes
    on. (The lastError needs the delivery pipeline to carry `str(RenderError)`.)"""
    api = mail_api
    token = await setup(api, channels=("email",))
    customer = await create_customer(api, token, email="li@example.com")
    worker = api.runtime.worker
    body = "Thanks for your order.\nIt is number {{ data.order_id }}."
    assert (await set_template(api, token, channel="email", body=body))["errors"] == []
    message = await send(
        api, token, "orders", customer["id"], title=None, data={"order": 1}, key="u1"
    )
    assert await worker.run_once() == 1
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.FAILED, "REJECTED")
    assert smtp.received == []
    failed = data(await api.gql("{ failedDeliveries { nodes { lastError } } }", token=token))
    [node] = failed["failedDeliveries"]["nodes"]
    assert node["lastError"] == row.last_error
    assert "body, line 2" in row.last_error and "data.order_id" in row.last_error, row.last_error
    assert "li@example.com" not in row.last_error
    assert row.last_error in documented_last_errors(), "docs/templates.md shows another text"

    # A good template afterwards is delivered as usual.
    await set_template(api, token, channel="email", body="Thanks {{ customer.name }}")
    message = await send(api, token, "orders", customer["id"], title=None, data={"order": 9})
    assert await worker.run_once() == 1
    [row] = await rows(message)
    assert row.status is DeliveryStatus.SENT
    [mail] = smtp.received
    assert mail.message["Subject"] == "Order 9"


async def test_neither_content_nor_template_is_no_content(api):
    token = await setup(api)
    customer = await create_customer(api, token)
    payload = await send_payload(api, token, "orders", {"customerId": customer["id"]})
    assert payload["message"] is None
    [error] = payload["errors"]
    assert (error["code"], error["field"]) == ("NO_CONTENT", "content")

    # Half the content is not content either.
    payload = await send_payload(
        api, token, "orders", {"customerId": customer["id"]}, content={"title": "t", "body": ""}
    )
    assert payload["message"] is None and payload["errors"]


async def test_a_channel_without_a_template_fails_saying_so(mail_api, smtp):
    """A template for in_app does not make content for email: REJECTED, and lastError says
    which template is missing rather than blaming a render."""
    api = mail_api
    token = await setup(api, channels=("email",))
    customer = await create_customer(api, token, email="li@example.com")
    assert (await set_template(api, token, channel="in_app"))["errors"] == []
    message = await send(api, token, "orders", customer["id"], title=None, data={"order": 1})
    assert await api.runtime.worker.run_once() == 1
    [row] = await rows(message)
    assert (row.status, row.reason) == (DeliveryStatus.FAILED, "REJECTED")
    assert row.last_error == "no template for orders on email"
    assert smtp.received == []

"""exportCustomerData and its download link: everything held about the customer in one
document, for the customer itself or ADMIN only, read in a constant number of statements."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from tests.conftest import Api, data
from tests.core.data_rights_support import Held, held_customer
from tests.core.support import admin, only_error
from tests.sql_statements import statement_log
from tidings.core.enums import Role
from tidings.core.links import EXPORT_TTL, LinkKind
from tidings.core.models import AuditEntry
from tidings.schema.ids import to_global_id

EXPORT = """
mutation($c: ID) {
  exportCustomerData(customerId: $c) { data url errors { code field message } }
}
"""
ERASE = """
mutation($c: ID!) { eraseCustomer(customerId: $c, reason: "asked") { errors { code } } }
"""


def gid(held: Held) -> str:
    return to_global_id("Customer", held.customer.id)


def without_time(document: dict[str, Any]) -> dict[str, Any]:
    """The document less its time and audit log (which gains each export's own entry)."""
    return {k: v for k, v in document.items() if k not in ("generatedAt", "auditLog")}


def path_of(url: str) -> str:
    assert url.startswith("http://127.0.0.1:8000/exports/")
    return url[len("http://127.0.0.1:8000") :]


async def test_a_customer_exports_everything_held_about_it(api: Api):
    held = await held_customer(api.runtime.hasher)
    c = held.customer
    token = api.customer_token(c.id)
    payload = data(await api.gql(EXPORT, {}, token))["exportCustomerData"]
    assert payload["errors"] == []
    doc = payload["data"]
    assert doc["schemaVersion"] == 1
    assert doc["customer"]["id"] == str(c.id)
    assert doc["customer"]["externalId"] == c.external_id
    assert doc["customer"]["name"] == c.name
    assert doc["customer"]["attributes"] == c.attributes
    assert doc["contactPoints"] == [
        {"channel": "email", "address": c.email},
        {"channel": "sms", "address": c.phone},
    ]
    assert [d["platform"] for d in doc["devices"]] == ["ANDROID"]
    assert "token" not in doc["devices"][0]  # a push credential: never handed out
    ledger = {e["channel"]: e for e in doc["consentLedger"]}
    assert ledger["email"]["evidence"]["typed"] == c.email
    assert ledger["email"]["status"] == "GRANTED" and ledger["email"]["source"] == "signup_form"
    assert ledger["chat"]["status"] == "WITHDRAWN"
    assert doc["preferences"][0]["category"] == "news"
    assert doc["preferences"][0]["frequency"] == "DAILY_DIGEST"
    assert [m["title"] for m in doc["messages"]] == ["Weekly news"]
    deliveries = {d["id"]: d for d in doc["deliveries"]}
    assert set(deliveries) == {str(i) for i in held.deliveries.values()}
    sent = deliveries[str(held.deliveries["sent"])]
    assert [e["kind"] for e in sent["events"]] == ["BOUNCED"]
    assert "detail" not in sent["events"][0] and "lastError" not in sent
    assert doc["engagement"] == [
        {"deliveryId": sent["id"], "kind": "OPENED", "at": sent["openedAt"]}
    ]
    assert [n["title"] for n in doc["inbox"]] == [f"Hi {c.name}"]
    assert [(x["type"], x["value"], x["currency"]) for x in doc["conversions"]] == [
        ("purchase", "12.5000", "EUR")
    ]
    assert [a["action"] for a in doc["auditLog"]] == ["customer.read"]

    # Its own id works the same; the export is recorded.
    again = data(await api.gql(EXPORT, {"c": gid(held)}, token))["exportCustomerData"]
    assert without_time(again["data"]) == without_time(doc)
    assert [a["action"] for a in again["data"]["auditLog"]] == ["customer.read", "customer.export"]
    entries = await AuditEntry.filter(action="customer.export").order_by("id")
    assert [(e.actor_kind, e.actor_id, e.customer_id) for e in entries] == [
        ("customer", c.id, c.id)
    ] * 2


async def test_the_link_downloads_the_same_document_for_a_day(api: Api):
    held = await held_customer(api.runtime.hasher)
    _, token = await admin(api)
    payload = data(await api.gql(EXPORT, {"c": gid(held)}, token))["exportCustomerData"]
    response = await api.client.get(path_of(payload["url"]))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["content-disposition"] == (
        f'attachment; filename="tidings-export-{held.customer.id}.json"'
    )
    assert response.headers["cache-control"] == "no-store"
    assert without_time(response.json()) == without_time(payload["data"])
    assert [a["action"] for a in response.json()["auditLog"]] == [
        "customer.read",
        "customer.export",
    ]
    downloads = await AuditEntry.filter(action="customer.export_download")
    assert [(d.customer_id, d.detail) for d in downloads] == [(held.customer.id, {"via": "link"})]
    claims = api.runtime.links.verify(path_of(payload["url"]).rsplit("/", 1)[1], LinkKind.EXPORT)
    assert EXPORT_TTL - 60 < claims.issued_at + EXPORT_TTL - time.time() <= EXPORT_TTL


async def test_forged_expired_foreign_and_erased_links_get_the_404_page(api: Api):
    held = await held_customer(api.runtime.hasher)
    links = api.runtime.links
    now = int(time.time())
    expired = links._encode(LinkKind.EXPORT, held.customer.id, {"exp": now - 1}, now - 100)
    preference = links.preferences_token(held.customer.id, 0)
    good = path_of(links.export_url(held.customer.id))
    for path in (
        good[:-3] + "abc",
        f"/exports/{expired}",
        f"/exports/{preference}",  # a link of another kind
        f"/exports/{links.export_url(uuid.uuid4()).rsplit('/', 1)[1]}",  # nobody
    ):
        response = await api.client.get(path)
        assert response.status_code == 404, path
        assert "content-disposition" not in response.headers
    assert (await api.client.get(good)).status_code == 200
    _, token = await admin(api)
    assert data(await api.gql(ERASE, {"c": gid(held)}, token))["eraseCustomer"]["errors"] == []
    assert (await api.client.get(good)).status_code == 404


@pytest.mark.parametrize("role", [Role.MARKETER, Role.AGENT, Role.AUDITOR])
async def test_staff_other_than_admin_may_not_export(api: Api, role: Role):
    held = await held_customer(api.runtime.hasher)
    _, token = await api.staff(role)
    result = await api.gql(EXPORT, {"c": gid(held)}, token)
    assert result["data"]["exportCustomerData"] is None
    assert result["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await AuditEntry.filter(action="customer.export").count() == 0


async def test_what_cannot_be_exported_is_not_found(api: Api):
    held = await held_customer(api.runtime.hasher)
    other = await held_customer(api.runtime.hasher)
    _, token = await admin(api)
    mine = api.customer_token(held.customer.id)
    cases = [
        (mine, gid(other), "NOT_FOUND"),  # another customer's: as if it did not exist
        (mine, "nonsense", "NOT_FOUND"),
        (token, to_global_id("Customer", uuid.UUID(int=5)), "NOT_FOUND"),
        (token, None, "REQUIRED"),  # staff name the customer
    ]
    for caller, customer, code in cases:
        payload = data(await api.gql(EXPORT, {"c": customer}, caller))["exportCustomerData"]
        assert payload["data"] is None and payload["url"] is None
        assert only_error(payload)["code"] == code
    assert data(await api.gql(ERASE, {"c": gid(other)}, token))["eraseCustomer"]["errors"] == []
    erased = data(await api.gql(EXPORT, {"c": gid(other)}, token))["exportCustomerData"]
    assert only_error(erased)["code"] == "NOT_FOUND"
    unauthenticated = await api.gql(EXPORT, {})
    assert unauthenticated["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_the_export_reads_in_a_constant_number_of_statements(api: Api):
    small = await held_customer(api.runtime.hasher)
    large = await held_customer(api.runtime.hasher, extra=40)
    exports = api.runtime.services.exports
    counts = []
    for held in (small, large):
        with statement_log() as log:
            doc = await exports.document(held.customer.id)
        counts.append(len(log.statements))
    assert len(doc["deliveries"]) == 45 and len(doc["inbox"]) == 41
    assert len(doc["consentLedger"]) == 42 and len(doc["auditLog"]) == 41
    assert counts[0] == counts[1], counts

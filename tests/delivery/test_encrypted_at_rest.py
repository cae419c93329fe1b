"""Issue 14 point 9: after customers, consent with evidence, devices and sends on email, SMS
and push through the real local peers (failures echoing the address included), the raw
database holds no email address, phone number or device token: the SQLite file's bytes, and
every PostgreSQL table read with plain SQL."""

from __future__ import annotations

import asyncio
import json
from asyncio.subprocess import PIPE
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from tortoise import connections

from tests.conftest import Api, data, make_settings
from tests.delivery.conftest import smtp_settings
from tests.delivery.support import create_category, create_customer, rows, send
from tests.delivery.test_push_sms import REGISTER
from tests.providers.peers import FakeGoogle, SmsApi
from tidings.api.app import create_app
from tidings.core.enums import DeliveryStatus, Role

EMAILS = ("ann.secret@example.com", "bob.hidden@example.net")
PHONES = ("+15550101234", "+15550105678")
TOKENS = ("device-token-ann-0123456789abcdef", "device-token-bob-fedcba9876543210")
GRANT = """
mutation($i: GrantPermissionInput!) { grantPermission(input: $i) { errors { code } } }
"""


def secrets_in(text: bytes) -> list[str]:
    values = (*EMAILS, *PHONES, *TOKENS)
    found = [v for v in values if v.encode() in text or v.encode("utf-16-le") in text]
    # The local part alone too: a normalised or quoted form must not slip through.
    found += [e for e in EMAILS if e.split("@")[0].encode() in text]
    return found


async def raw_dump(db: str) -> bytes:
    """Every byte the database keeps: the SQLite file (and its journal), or each PostgreSQL
    table's rows as text."""
    conn = connections.get("default")
    if db.startswith("sqlite"):
        await conn.execute_script("PRAGMA wal_checkpoint(TRUNCATE)")
        path = Path(db.removeprefix("sqlite://"))
        # Read by another process: closing a descriptor of the file in this one would drop
        # SQLite's POSIX locks on it, and the next process to close the database would take
        # itself for the last, remove the WAL, and leave this process's reads stale.
        files = sorted(str(p) for p in path.parent.glob(path.name + "*"))
        reader = await asyncio.create_subprocess_exec("cat", *files, stdout=PIPE)
        out, _ = await reader.communicate()
        return out
    _, tables = await conn.execute_query(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
    )
    chunks = []
    for table in tables:
        _, found = await conn.execute_query(f'SELECT t::text AS row FROM "{table[0]}" t')
        chunks += [row["row"].encode() for row in found]
    return b"\n".join(chunks)


@pytest.fixture
def google() -> Iterator[FakeGoogle]:
    peer = FakeGoogle(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    yield peer
    peer.close()


@pytest.fixture
def sms_peer() -> Iterator[SmsApi]:
    peer = SmsApi()
    yield peer
    peer.close()


@pytest.fixture
async def everything_api(db: str, smtp: Any, tmp_path: Path, google: FakeGoogle, sms_peer: SmsApi):
    account = tmp_path / "service-account.json"
    account.write_text(json.dumps(google.service_account()))
    settings = make_settings(
        db,
        **smtp_settings(smtp.controller.port),
        TIDINGS_IN_PROCESS_WORKER="false",
        TIDINGS_FCM_CREDENTIALS=str(account),
        TIDINGS_FCM_ENDPOINT=google.url,
        TIDINGS_SMS_URL=f"{sms_peer.url}/v1/messages",
        TIDINGS_SMS_API_KEY=sms_peer.api_key,
        TIDINGS_SMS_FROM="Shop",
    )
    app = create_app(settings, manage_database=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        yield Api(client=client, app=app)
    await app.state.runtime.registry.aclose()
    app.state.runtime.templates.close()


async def test_the_raw_database_holds_no_address_phone_or_token(
    everything_api,
    db,
    smtp,
    google,
    sms_peer,
):
    api = everything_api
    # Bob's address and number are refused by the peers, who echo them back in the error.
    smtp.rcpt_replies[f"<{EMAILS[1]}>"] = f"550 5.1.1 <{EMAILS[1]}>: no such user"
    smtp.rcpt_replies[EMAILS[1]] = f"550 5.1.1 <{EMAILS[1]}>: no such user"
    sms_peer.script[PHONES[1]] = [(400, {}, {"error": {"message": f"bad number {PHONES[1]}"}})]
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "news", "MARKETING", defaultChannels=["email", "sms", "push"])
    await create_category(
        api, admin, "orders", "TRANSACTIONAL", defaultChannels=["email", "sms", "push"]
    )
    sent = []
    for index in range(2):
        customer = (
            await create_customer(
                api,
                admin,
                name=f"Person {index}",
                email=EMAILS[index],
                phone=PHONES[index],
                attributes={"backup": EMAILS[index]},
            )
        )["id"]
        variables = {"i": {"customerId": customer, "platform": "ANDROID", "token": TOKENS[index]}}
        assert data(await api.gql(REGISTER, variables, admin))["registerDevice"]["errors"] == []
        for channel in ("email", "sms", "push"):
            evidence = {"form": "signup", "typed": EMAILS[index], "phone": PHONES[index]}
            variables = {
                "i": {
                    "customerId": customer,
                    "channel": channel,
                    "category": "news",
                    "source": "signup_form",
                    "evidence": evidence,
                }
            }
            assert data(await api.gql(GRANT, variables, admin))["grantPermission"]["errors"] == []
        sent.append(await send(api, admin, "orders", customer, title="Hi", body="Shipped"))
    while await api.runtime.worker.run_once():
        pass

    # The sends happened: each peer heard the addresses the database no longer shows.
    statuses = {(r.channel, r.status) for m in sent for r in await rows(m)}
    assert (("email", DeliveryStatus.SENT)) in statuses and (
        "push",
        DeliveryStatus.SENT,
    ) in statuses
    assert any(EMAILS[0] in r.rcpt_tos for r in smtp.received)
    assert {r["json"]["to"] for r in sms_peer.requests} >= {PHONES[0]}
    assert {r["json"]["message"]["token"] for r in google.requests} == set(TOKENS)

    # Bob's email and SMS failed, and their errors were stored.
    assert ("email", DeliveryStatus.FAILED) in statuses and (
        "sms",
        DeliveryStatus.FAILED,
    ) in statuses
    dump = await raw_dump(db)
    # The control: the scan does see plain columns (the externalIds, the category keys).
    assert b"ext-" in dump and b"orders" in dump
    assert secrets_in(dump) == []
    # And the API still reads them back.
    customers = data(
        await api.gql("{ customers(first: 10) { nodes { email phone } } }", None, admin)
    )
    assert secrets_in(json.dumps(customers).encode())

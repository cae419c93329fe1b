"""What one `send` to one customer costs the database, statement by statement: each is a round
trip the caller waits for, several of them under the audit chain's lock (bench B3).

Counted from tortoise's debug log (tests/sql_statements.py): the deliveries' INSERT goes to
the driver and BEGIN and COMMIT are not logged, so these are the logged ones only."""

from __future__ import annotations

from tests.conftest import data
from tests.delivery.support import create_category, create_customer
from tests.sql_statements import statement_log
from tidings.core.enums import Role
from tidings.core.models.messages import Delivery, Message

SEND = """mutation($i: SendInput!) { send(input: $i) { message { id status } errors { code } } }"""
# Authentication, the idempotency key, the category; in the transaction the message, the
# policy inputs (two statements on PostgreSQL), suppressed addresses, the audit entry.
POSTGRES = [
    "staff",
    "messages",
    "categories",
    "messages",
    "customers",  # with whether each has a device
    "permission_states",  # grants, the preference and the counted deliveries, one UNION ALL
    "suppressions",
    "SELECT pg_advisory_xact_lock($1)",
    "audit_entries",  # appended on the tail this process wrote last (core/audit/log.py)
]


def _variables(key: str, customer: str) -> dict:
    return {
        "i": {
            "idempotencyKey": key,
            "category": "receipts",
            "to": {"customerId": customer},
            "content": {"title": "Hello", "body": "World"},
        }
    }


async def test_a_send_to_one_customer_costs_a_fixed_set_of_statements(api, db):
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "receipts", "TRANSACTIONAL", defaultChannels=["in_app"])
    customer = (await create_customer(api, admin, email="a@example.com"))["id"]
    await api.gql(SEND, _variables("warm", customer), admin)
    with statement_log() as log:
        payload = data(await api.gql(SEND, _variables("counted", customer), admin))["send"]
    assert payload["errors"] == [] and payload["message"]["status"] == "EXPANDED"
    assert await Delivery.filter(message__idempotency_key="counted").count() == 1
    assert await Message.filter(idempotency_key="counted").count() == 1
    if db.startswith("postgres"):
        assert log.tables() == POSTGRES
    else:  # the ORM's queries on SQLite: the policy inputs are six of them
        assert len(log.statements) <= len(POSTGRES) + 5
    assert "UPDATE" not in " ".join(log.statements)  # the message is stored EXPANDED at once

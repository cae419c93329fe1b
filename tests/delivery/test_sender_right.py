"""A scheduled send does not outlive its sender's right: when it expands, the sender is
checked again (an agent's SEND access grant, a staff member still active, an API key not
revoked), and a refused customer's deliveries are SUPPRESSED with SENDER_NOT_ALLOWED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Api, data
from tests.delivery.support import create_category, create_customer, rows, send
from tidings.core.enums import DeliveryStatus, MessageStatus, Role
from tidings.core.models import Notification
from tidings.core.models.messages import Message
from tidings.schema.ids import to_global_id

GRANT_ACCESS = """
mutation($i: GrantAccessInput!) { grantAccess(input: $i) { accessGrant { id } errors { code } } }
"""
REVOKE_ACCESS = """
mutation($id: ID!) { revokeAccessGrant(id: $id) { accessGrant { id } errors { code } } }
"""
UPDATE_STAFF = """
mutation($i: UpdateStaffInput!) { updateStaff(input: $i) { staff { id } errors { code } } }
"""
CREATE_KEY = """
mutation($i: CreateApiKeyInput!) { createApiKey(input: $i) { apiKey { id } secret errors { code } } }
"""
REVOKE_KEY = """
mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { id } errors { code } } }
"""
MESSAGE = """
query($id: ID!) { message(id: $id) { status deliveryCounts { status count }
  deliveries(first: 10) { nodes { status reason rules { rule verdict detail } } } } }
"""


async def setup(api: Api) -> tuple[str, str]:
    """An admin token and a customer who takes `orders` (transactional) in the app."""
    _, admin = await api.staff(Role.ADMIN)
    await create_category(api, admin, "orders", "TRANSACTIONAL", defaultChannels=["in_app"])
    customer = await create_customer(api, admin, name="Ann")
    return admin, customer["id"]


async def agent_with_send(api: Api, admin: str, customer: str) -> tuple[str, str]:
    """An agent's token and its SEND access grant's id, for `customer`."""
    agent_id, agent = await api.staff(Role.AGENT)
    variables = {
        "i": {
            "staffId": to_global_id("Staff", agent_id),
            "customerId": customer,
            "actions": ["SEND"],
        }
    }
    payload = data(await api.gql(GRANT_ACCESS, variables, admin))["grantAccess"]
    assert payload["errors"] == [], payload["errors"]
    return agent, payload["accessGrant"]["id"]


async def schedule(api: Api, token: str, customer: str) -> dict[str, Any]:
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    message = await send(api, token, "orders", customer, title="Your order", scheduleAt=at)
    assert message["status"] == "ACCEPTED" and await rows(message) == []
    return message


async def time_passes(api: Api) -> None:
    worker = api.runtime.worker
    later = datetime.now(UTC) + timedelta(hours=2)
    while await worker.expand_once(now=later):  # one job a call
        pass
    await worker.run_once(now=later)


async def refused_with(api: Api, admin: str, message: dict[str, Any], detail: str) -> None:
    """Nothing reached the customer, and the console says why."""
    shown = data(await api.gql(MESSAGE, {"id": message["id"]}, admin))["message"]
    assert shown["status"] == MessageStatus.EXPANDED.value
    assert shown["deliveryCounts"] == [{"status": "SUPPRESSED", "count": 1}]
    [delivery] = shown["deliveries"]["nodes"]
    assert (delivery["status"], delivery["reason"]) == ("SUPPRESSED", "SENDER_NOT_ALLOWED")
    assert delivery["rules"] == [
        {"rule": "SENDER_NOT_ALLOWED", "verdict": "STOP", "detail": detail}
    ]
    assert await Notification.all().count() == 0


async def test_an_agents_scheduled_send_after_its_grant_is_revoked_reaches_no_one(api):
    admin, customer = await setup(api)
    agent, grant = await agent_with_send(api, admin, customer)
    message = await schedule(api, agent, customer)
    revoked = data(await api.gql(REVOKE_ACCESS, {"id": grant}, admin))["revokeAccessGrant"]
    assert revoked["errors"] == []
    await time_passes(api)
    await refused_with(
        api, admin, message, "the sending agent holds no SEND access grant for the customer now"
    )


async def test_a_deactivated_staff_members_scheduled_send_reaches_no_one(api):
    admin, customer = await setup(api)
    marketer_id, marketer = await api.staff(Role.MARKETER)
    message = await schedule(api, marketer, customer)
    variables = {"i": {"id": to_global_id("Staff", marketer_id), "active": False}}
    assert data(await api.gql(UPDATE_STAFF, variables, admin))["updateStaff"]["errors"] == []
    await time_passes(api)
    await refused_with(api, admin, message, "the staff member who sent it is deactivated")


async def test_a_revoked_api_keys_scheduled_send_reaches_no_one(api):
    admin, customer = await setup(api)
    created = data(
        await api.gql(CREATE_KEY, {"i": {"name": "back end", "role": "MARKETER"}}, admin)
    )["createApiKey"]
    message = await schedule(api, created["secret"], customer)
    revoked = data(await api.gql(REVOKE_KEY, {"id": created["apiKey"]["id"]}, admin))
    assert revoked["revokeApiKey"]["errors"] == []
    await time_passes(api)
    await refused_with(api, admin, message, "the API key that sent it is revoked")


async def test_a_demoted_senders_scheduled_send_reaches_no_one(api):
    """The right is the sender's role as it is now: an AUDITOR may not send at all."""
    admin, customer = await setup(api)
    marketer_id, marketer = await api.staff(Role.MARKETER)
    message = await schedule(api, marketer, customer)
    variables = {"i": {"id": to_global_id("Staff", marketer_id), "role": "AUDITOR"}}
    assert data(await api.gql(UPDATE_STAFF, variables, admin))["updateStaff"]["errors"] == []
    await time_passes(api)
    await refused_with(api, admin, message, "the sender's role (AUDITOR) may not send")


async def test_a_scheduled_send_whose_sender_keeps_its_right_goes_out(api):
    admin, customer = await setup(api)
    agent, _ = await agent_with_send(api, admin, customer)
    by_agent = await schedule(api, agent, customer)
    _, marketer = await api.staff(Role.MARKETER)
    by_marketer = await schedule(api, marketer, customer)
    await time_passes(api)
    for message in (by_agent, by_marketer):
        [row] = await rows(message)
        assert (row.status, row.reason) == (DeliveryStatus.DELIVERED, None)
    assert await Notification.all().count() == 2
    assert {m.status for m in await Message.all()} == {MessageStatus.EXPANDED}

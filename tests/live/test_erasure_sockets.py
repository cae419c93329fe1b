"""An erased customer's open sockets close with 4403 at once, whether ADMIN erased it or it
asked itself, and a new socket with its old token is refused."""

from __future__ import annotations

from tests.conftest import data
from tests.core.support import raw_id
from tests.delivery.support import send
from tests.live.conftest import LiveServer
from tests.live.test_subscriptions import NOTIFICATIONS, customer_token, setup_customers
from tests.live.ws import connect


async def assert_refused(live: LiveServer, token: str) -> None:
    async with connect(live.ws_url, init=False) as client:
        await client.socket.send(
            '{"type":"connection_init","payload":{"authorization":"Bearer ' + token + '"}}'
        )
        assert (await client.closed()).code == 4403


async def test_erasing_a_customer_closes_its_sockets_with_4403(live):
    token, (alice, bob) = await setup_customers(live, 2)
    alice_token = customer_token(live, alice)
    async with (
        connect(live.ws_url, alice_token) as client,
        connect(live.ws_url, customer_token(live, bob)) as other,
    ):
        op = await client.subscribe(NOTIFICATIONS)
        op_bob = await other.subscribe(NOTIFICATIONS)
        await send(live.api, token, "news", alice["id"], title="Before")
        assert (await client.next(op))["data"]["notifications"]["title"] == "Before"
        erased = await live.api.gql(
            'mutation($c: ID!) { eraseCustomer(customerId: $c, reason: "asked") '
            "{ errors { code } } }",
            {"c": alice["id"]},
            token,
        )
        assert data(erased)["eraseCustomer"]["errors"] == []
        assert (await client.closed()).code == 4403
        # Another customer's socket carries on.
        await send(live.api, token, "news", bob["id"], title="Still here")
        assert (await other.next(op_bob))["data"]["notifications"]["title"] == "Still here"
    await assert_refused(live, alice_token)


async def test_a_customer_asking_to_be_erased_loses_its_sockets(live):
    _, (alice,) = await setup_customers(live, 1)
    alice_token = customer_token(live, alice)
    async with connect(live.ws_url, alice_token) as client:
        await client.subscribe(NOTIFICATIONS)
        asked = await live.api.gql(
            "mutation { requestErasure { erased errors { code } } }", token=alice_token
        )
        assert data(asked)["requestErasure"] == {"erased": True, "errors": []}
        assert (await client.closed()).code == 4403
    await assert_refused(live, live.api.customer_token(raw_id(alice["id"]), 1))

"""A disabled customer's live sockets close with 4403 at once, as a revocation closes them,
and a socket opened later with its token is refused."""

from __future__ import annotations

from tests.conftest import data
from tests.live.test_subscriptions import INBOX_UPDATES, customer_token, setup_customers
from tests.live.ws import connect

DISABLE = (
    "mutation($c: ID!) { disableCustomer(customerId: $c) { customer { disabled } "
    "errors { code } } }"
)


async def test_disabling_a_customer_closes_its_sockets(live):
    token, (alice,) = await setup_customers(live, 1)
    own = customer_token(live, alice)
    async with connect(live.ws_url, own) as client:
        await client.subscribe(INBOX_UPDATES)
        disabled = data(await live.api.gql(DISABLE, {"c": alice["id"]}, token))
        assert disabled["disableCustomer"] == {"customer": {"disabled": True}, "errors": []}
        assert (await client.closed()).code == 4403
    async with connect(live.ws_url, init=False) as client:
        await client.socket.send(
            '{"type":"connection_init","payload":{"authorization":"Bearer ' + own + '"}}'
        )
        assert (await client.closed()).code == 4403

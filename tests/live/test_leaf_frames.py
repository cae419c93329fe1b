"""Plain-field subscriptions are rendered without GraphQL execution (`schema/live/leaf.py`);
their frames must be exactly what execution gives for the same event."""

from __future__ import annotations

from tests.delivery.support import send
from tests.live.test_subscriptions import customer_token, setup_customers
from tests.live.ws import connect

FIELDS = "__typename id category title body data createdAt readAt"
PAIRS = [
    (  # rendered                                  executed (a fragment forces execution)
        f"subscription {{ notifications {{ {FIELDS} }} }}",
        f"subscription {{ notifications {{ ...N }} }} fragment N on Notification {{ {FIELDS} }}",
    ),
    (
        "subscription { n: notifications { t: title id title createdAt id } }",
        "subscription { n: notifications { ... on Notification { t: title id title createdAt id } } }",
    ),
]
INBOX_PAIR = (
    "subscription { inboxUpdates { unreadCount readIds archivedIds __typename } }",
    "subscription { inboxUpdates { ... { unreadCount readIds archivedIds __typename } } }",
)
DATA = {"order": 1042, "items": [{"sku": "A-1", "qty": 2}], "note": "déjà vu ✓", "gift": None}


async def test_rendered_frames_equal_executed_ones(live):
    token, (alice,) = await setup_customers(live, 1)
    own = customer_token(live, alice)
    async with connect(live.ws_url, own) as rendered, connect(live.ws_url, own) as executed:
        ops = [
            (await rendered.subscribe(fast), await executed.subscribe(slow))
            for fast, slow in [*PAIRS, INBOX_PAIR]
        ]
        await live.subscribed(len(ops) * 2)
        counts = live.api.runtime.live.frames
        before = counts.rendered
        await send(live.api, token, "news", alice["id"], title="Ünïcode « ok »", data=DATA)
        fast_frames = await rendered.payloads([fast for fast, _ in ops[:-1]])
        slow_frames = await executed.payloads([slow for _, slow in ops[:-1]])
        for fast_op, slow_op in ops[:-1]:
            assert fast_frames[fast_op] == slow_frames[slow_op]
        assert counts.rendered - before == len(PAIRS)
        note_id = fast_frames[ops[0][0]]["data"]["notifications"]["id"]

        marked = await live.api.gql(
            "mutation($ids: [ID!]!) { markRead(ids: $ids) { unreadCount } }",
            {"ids": [note_id]},
            own,
        )
        assert marked["data"]["markRead"]["unreadCount"] == 0
        fast_op, slow_op = ops[-1]
        fast, slow = await rendered.next(fast_op), await executed.next(slow_op)
        assert (
            fast
            == slow
            == {
                "data": {
                    "inboxUpdates": {
                        "unreadCount": 0,
                        "readIds": [note_id],
                        "archivedIds": [],
                        "__typename": "InboxUpdate",
                    }
                }
            }
        )

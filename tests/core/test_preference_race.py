"""Two setPreference calls at once for the same customer × category both succeed: the first two
race to create the row (there is none to lock yet), and the loser runs again, as the consent
ledger's `_record` does, instead of failing with an unexpected error."""

from __future__ import annotations

import asyncio

from tests.conftest import data
from tests.core.support import admin, create_category, create_customer, raw_id
from tidings.core.models import Preference

SET = """
mutation($input: SetPreferenceInput!) {
  setPreference(input: $input) {
    preference { category channels frequency }
    errors { code field message }
  }
}
"""

ROUNDS = 12
CHOICES = (
    {"channels": ["email"], "frequency": "REALTIME"},
    {"channels": ["in_app", "email"], "frequency": "DAILY_DIGEST"},
)


async def test_concurrent_first_preferences_both_succeed_and_one_row_holds_the_last(api):
    _, token = await admin(api)
    customer = await create_customer(api, token)
    customer_id = raw_id(customer["id"])
    for round_ in range(ROUNDS):
        category = f"news-{round_}"
        await create_category(api, token, category)
        requests = [
            {"customerId": customer["id"], "category": category, **choice} for choice in CHOICES
        ]
        results = await asyncio.gather(*(api.gql(SET, {"input": r}, token) for r in requests))
        payloads = [data(result)["setPreference"] for result in results]
        assert [p["errors"] for p in payloads] == [[], []], (round_, payloads)
        # Each caller is answered with what it set.
        for payload, choice in zip(payloads, CHOICES, strict=True):
            assert payload["preference"] == {"category": category, **choice}
        rows = await Preference.filter(customer_id=customer_id, category=category).values(
            "channels", "frequency", "updated_at"
        )
        assert len(rows) == 1
        # The row holds one request whole (the one that committed last), never a mix.
        held = {"channels": rows[0]["channels"], "frequency": rows[0]["frequency"].value}
        assert held in CHOICES

        # Updates of an existing row race too: each waits on the row's lock, and the last wins.
        again = await asyncio.gather(
            *(api.gql(SET, {"input": r}, token) for r in reversed(requests))
        )
        assert [data(r)["setPreference"]["errors"] for r in again] == [[], []]
        assert await Preference.filter(customer_id=customer_id, category=category).count() == 1
    assert await Preference.filter(customer_id=customer_id).count() == ROUNDS


async def test_a_later_preference_replaces_the_raced_one(api):
    _, token = await admin(api)
    customer = await create_customer(api, token)
    await create_category(api, token, "news")
    base = {"customerId": customer["id"], "category": "news"}
    await asyncio.gather(*(api.gql(SET, {"input": {**base, **c}}, token) for c in CHOICES))
    last = {"channels": ["push"], "frequency": "WEEKLY_DIGEST"}
    payload = data(await api.gql(SET, {"input": {**base, **last}}, token))["setPreference"]
    assert payload["errors"] == []
    (row,) = await Preference.filter(customer_id=raw_id(customer["id"])).values(
        "channels", "frequency"
    )
    assert (row["channels"], row["frequency"].value) == (["push"], "WEEKLY_DIGEST")

"""Every GraphQL example in README.md, run verbatim on the demo data, does what the README
says. The blocks run in the README's order, as a newcomer would paste them into GraphiQL;
only the placeholders the README names (`<printed>`, `<customer id>`, `<message id>`) are
filled in, each from what an earlier step printed or returned, and the period the analytics
example asks the reader for (`<from>`, `<to>`: today, UTC)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import graphql
import httpx
import pytest

from tests.conftest import Api, make_settings
from tidings.api.app import create_app
from tidings.api.cli import DEV_ADMIN_EMAIL, _ensure_dev_admin, build_parser
from tidings.core.demo import load_demo
from tidings.core.models.messages import Delivery, ExpansionJob, Message

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
GRAPHQL_BLOCKS = re.findall(r"```graphql\n(.*?)```", README, re.DOTALL)
PLACEHOLDER = re.compile(r"<[a-z][a-z ]*>")
AS_CUSTOMER = "# as the customer"


def root_field(document: str) -> str:
    (operation,) = [
        d
        for d in graphql.parse(document).definitions
        if isinstance(d, graphql.OperationDefinitionNode)
    ]
    return operation.selection_set.selections[0].name.value


def test_the_readme_has_the_examples_this_test_checks():
    fields = [root_field(block) for block in GRAPHQL_BLOCKS]
    for needed in (
        "login",
        "customers",
        "grantPermission",
        "withdrawPermission",
        "createCategory",
        "send",
        "message",
        "explainDelivery",
        "issueCustomerToken",
        "inbox",
    ):
        assert needed in fields, f"README.md lost its {needed} example"
    unchecked = set(fields) - set(CHECKS)
    assert not unchecked, f"README examples this test does not check yet: {unchecked}"


def test_the_readme_links_to_no_contract_outside_the_repository():
    assert "../shared" not in README
    assert "CONTRACT.md" not in README


def test_the_js_subscription_is_valid_against_the_schema(tmp_path):
    app = create_app(make_settings(f"sqlite://{tmp_path / 'x.sqlite3'}"), manage_database=False)
    queries = re.findall(r'query: "([^"]+)"', README)
    assert queries, "the README's websocket example is gone"
    for query in queries:
        errors = graphql.validate(app.state.schema._schema, graphql.parse(query))
        assert errors == [], errors


def test_the_readme_commands_parse():
    """Each `tidings ...` command line the README shows is one the CLI accepts."""
    parser = build_parser()
    subcommands = set(parser._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    for name in re.findall(r"`tidings ([a-z-]+)", README):
        assert name in subcommands, name
    for line in re.findall(r"^(?:docker compose run --rm api )?tidings (.+)$", README, re.M):
        parser.parse_args(line.split())


# What each example must do, by its root field. `result` is the field's value.


def _login(result: dict, state: dict) -> None:
    assert result["errors"] == [] and result["token"]
    state["admin"] = result["token"]


def _customers(result: dict, state: dict) -> None:
    (amelia,) = result["nodes"]
    assert amelia["name"] == "Amelia Hart" and amelia["tier"] == "HIGH_VALUE"
    granted = {
        (g["channel"], g["category"])
        for g in amelia["permissionGrants"]
        if g["status"] == "GRANTED"
    }
    assert {("email", "promotions"), ("in_app", "promotions")} <= granted
    state["<customer id>"] = amelia["id"]


def _grant(result: dict, state: dict) -> None:
    assert result["errors"] == []
    assert result["grant"]["status"] == "GRANTED" and result["grant"]["grantedAt"]


def _withdraw(result: dict, state: dict) -> None:
    assert result["errors"] == []
    assert result["grant"]["status"] == "WITHDRAWN" and result["grant"]["withdrawnAt"]


def _create_category(result: dict, state: dict) -> None:
    assert result["errors"] == []
    assert result["category"]["kind"] == "MARKETING"
    assert result["category"]["respectQuietHours"] is True


def _send(result: dict, state: dict) -> None:
    assert result["errors"] == []
    message = result["message"]
    state["<message id>"] = message["id"]
    if state.get("sent_to_tier"):  # the live walkthrough's send, to one customer
        assert message["status"] == "EXPANDED"
        assert message["deliveryCounts"] == [{"status": "QUEUED", "count": 1}]
    else:  # the tier send: ACCEPTED, expanded afterwards, as the README's comment says
        assert message["status"] == "ACCEPTED"
        state["sent_to_tier"] = True


def _message(result: dict, state: dict) -> None:
    assert result["status"] == "EXPANDED"
    seen = {
        (d["customer"]["name"], d["channel"], d["status"], d["reason"])
        for d in result["deliveries"]["nodes"]
    }
    # What the README says happens on the demo data with no SMTP relay and no FCM set.
    assert seen == {
        ("Amelia Hart", "in_app", "DELIVERED", None),
        ("Amelia Hart", "email", "FAILED", "NO_PROVIDER"),
        ("Amelia Hart", "push", "FAILED", "NO_PROVIDER"),
        ("王小明", "in_app", "DELIVERED", None),
        ("王小明", "email", "FAILED", "NO_PROVIDER"),
        ("王小明", "push", "SUPPRESSED", "NO_PERMISSION"),
    }


def _explain(result: dict, state: dict) -> None:
    # Every policy rule lets it through; with no SMTP relay set, nothing serves email.
    assert (result["status"], result["reason"]) == ("FAILED", "NO_PROVIDER")
    *policy, last = result["rules"]
    assert [r["verdict"] for r in policy] == ["PASS"] * 6
    assert (last["rule"], last["verdict"]) == ("NO_PROVIDER", "STOP")


def _issue_token(result: dict, state: dict) -> None:
    assert result["errors"] == [] and result["token"]
    state["customer"] = result["token"]


def _inbox(result: dict, state: dict) -> None:
    titles = [n["title"] for n in result["nodes"]]
    assert titles[:2] == ["Your order has shipped", "Spring sale"]  # newest first
    state["inbox_checked"] = True


def _customer(result: dict, state: dict) -> None:
    # The page is served by the same process, at TIDINGS_PUBLIC_URL (development default).
    assert result["name"] == "Amelia Hart"
    assert result["preferenceLink"].startswith("http://127.0.0.1:8000/preferences/")
    state["preference_link"] = result["preferenceLink"]


def _delivery_stats(result: list, state: dict) -> None:
    rows = {row["channel"]: row for row in result}
    assert {"email", "in_app"} <= set(rows)
    # The inbox reports receipts: whatever it sent is delivered.
    assert rows["in_app"]["receiptsReported"] is True
    assert rows["in_app"]["sent"] > 0 and rows["in_app"]["deliveryRate"] == 1.0
    # No SMTP relay: email failed, nothing sent, so no delivery rate (null, not 0).
    assert rows["email"]["sent"] == 0 and rows["email"]["failed"] > 0
    assert rows["email"]["deliveryRate"] is None


CHECKS: dict[str, Callable[[dict, dict], None]] = {
    "login": _login,
    "customers": _customers,
    "grantPermission": _grant,
    "withdrawPermission": _withdraw,
    "createCategory": _create_category,
    "send": _send,
    "message": _message,
    "explainDelivery": _explain,
    "issueCustomerToken": _issue_token,
    "inbox": _inbox,
    "customer": _customer,
    "deliveryStats": _delivery_stats,
}


async def settle() -> None:
    """Until the running worker has expanded every message and sent every queued delivery."""
    async with asyncio.timeout(30):
        while True:
            if not (
                await ExpansionJob.filter(done=False).exists()
                or await Message.filter(status="ACCEPTED").exists()
                or await Delivery.filter(status="QUEUED").exists()
            ):
                return
            await asyncio.sleep(0.05)


async def test_every_graphql_example_does_what_the_readme_says(db, capsys):
    settings = make_settings(db)
    app = create_app(settings, manage_database=False)
    runtime = app.state.runtime
    # `make run` on an empty database: the development admin, its password printed once.
    await _ensure_dev_admin(settings)
    printed = re.search(r"password:\s+(\S+)", capsys.readouterr().out)
    assert printed, "serve printed no development password"
    # `make demo`.
    assert "loaded" in await load_demo()

    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    state: dict[str, Any] = {
        "<printed>": printed.group(1),
        "<from>": today.isoformat(),
        "<to>": (today + timedelta(days=1)).isoformat(),
    }
    stop = asyncio.Event()
    worker = asyncio.create_task(runtime.worker.run(stop))  # as `serve` runs it, in process
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            api = Api(client=client, app=app)
            for block in GRAPHQL_BLOCKS:
                document = block
                for placeholder in set(PLACEHOLDER.findall(block)):
                    assert placeholder in state, f"{placeholder} is not filled by an earlier step"
                    document = document.replace(placeholder, state[placeholder])
                assert "login" not in document or DEV_ADMIN_EMAIL in document
                field = root_field(document)
                if field in ("message", "inbox", "deliveryStats"):
                    await settle()
                token = None
                if field != "login":
                    token = state["customer"] if AS_CUSTOMER in block else state["admin"]
                result = await api.gql(document, token=token)
                assert not result.get("errors"), (field, result["errors"])
                CHECKS[field](result["data"][field], state)
            # The link opens Amelia's page, in her language.
            page = await client.get(urlsplit(state["preference_link"]).path)
            assert page.status_code == 200
            assert "Amelia Hart" in page.text and 'lang="en"' in page.text
    finally:
        stop.set()
        await worker
        await runtime.registry.aclose()
    assert state.get("inbox_checked")


@pytest.mark.parametrize("block", GRAPHQL_BLOCKS, ids=root_field)
def test_each_example_is_valid_against_the_schema(block, tmp_path):
    app = create_app(make_settings(f"sqlite://{tmp_path / 'x.sqlite3'}"), manage_database=False)
    # A placeholder standing in a DateTime needs a date to be valid at all.
    samples = {"<from>": "2026-01-01T00:00:00Z", "<to>": "2026-01-02T00:00:00Z"}
    document = PLACEHOLDER.sub(lambda found: samples.get(found.group(0), "x"), block)
    errors = graphql.validate(app.state.schema._schema, graphql.parse(document))
    assert errors == [], errors

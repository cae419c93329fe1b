"""Nothing personal or secret reaches the logs: a realistic session with every logger at
DEBUG, and no email, phone, device token, password, bearer token or API key in any line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD, data, make_settings
from tidings.api.app import SQL_LOGGERS, create_app
from tidings.core.enums import Role

ADMIN_EMAIL = "boss.logsecret@example.com"
CUSTOMER_EMAIL = "jane.logsecret@example.net"
CUSTOMER_PHONE = "+8613800138000"
DEVICE_TOKEN = "fcm-token-" + "Qw3rTy" * 8
EVIDENCE_IP = "198.51.100.23"
WRONG_PASSWORD = "wrong-secret-passphrase"
BAD_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsZWFrIn0.c2VjcmV0LWJhZC10b2tlbg"

LOGIN = (
    "mutation($email: String!, $password: String!) "
    "{ login(email: $email, password: $password) { token errors { code } } }"
)
CREATE_CUSTOMER = (
    "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) "
    "{ customer { id email } errors { code } } }"
)


class Everything(logging.Handler):
    """Every record, formatted with its exception and stack, as a handler would print it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + repr(record.args) + repr(record.__dict__))


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> Iterator[Everything]:
    handler = Everything()
    root = logging.getLogger()
    caplog.set_level(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


def leaks(texts: list[str], secrets: list[str]) -> list[tuple[str, str]]:
    return [(s, t[:300]) for t in texts for s in secrets if s in t]


async def run_session(api, db: str) -> list[str]:
    """A day's work; returns every secret it handled."""
    await api.staff(Role.ADMIN, email=ADMIN_EMAIL)
    _, marketer = await api.staff(Role.MARKETER)
    login = data(await api.gql(LOGIN, {"email": ADMIN_EMAIL, "password": PASSWORD}))
    admin = login["login"]["token"]
    assert admin
    created = data(
        await api.gql(
            CREATE_CUSTOMER,
            {"input": {"externalId": "c-1", "email": CUSTOMER_EMAIL, "phone": CUSTOMER_PHONE}},
            admin,
        )
    )
    customer_id = created["createCustomer"]["customer"]["id"]
    data(
        await api.gql(
            'mutation { createCategory(input: {key: "news", name: "News", kind: MARKETING}) '
            "{ errors { code } } }",
            token=admin,
        )
    )
    granted = await api.gql(
        "mutation($input: GrantPermissionInput!) { grantPermission(input: $input) "
        "{ grant { evidence } errors { code } } }",
        {
            "input": {
                "customerId": customer_id,
                "channel": "email",
                "category": "news",
                "source": "signup_form",
                "evidence": {"ip": EVIDENCE_IP, "email": CUSTOMER_EMAIL},
            }
        },
        admin,
    )
    assert data(granted)["grantPermission"]["errors"] == []
    device = await api.gql(
        "mutation($input: RegisterDeviceInput!) { registerDevice(input: $input) "
        "{ device { id } errors { code } } }",
        {"input": {"customerId": customer_id, "platform": "IOS", "token": DEVICE_TOKEN}},
        admin,
    )
    assert data(device)["registerDevice"]["errors"] == []
    issued = await api.gql(
        "mutation($id: ID!) { issueCustomerToken(customerId: $id) { token errors { code } } }",
        {"id": customer_id},
        admin,
    )
    customer_token = data(issued)["issueCustomerToken"]["token"]
    assert data(await api.gql("{ me { ... on Customer { email phone } } }", token=customer_token))
    key = await api.gql(
        'mutation { createApiKey(input: {name: "crm", role: ADMIN}) { secret errors { code } } }',
        token=admin,
    )
    api_secret = data(key)["createApiKey"]["secret"]
    assert data(await api.gql("{ customers { nodes { email phone } } }", token=api_secret))

    # Refused: a field the marketer may not read, a bad token, a wrong password.
    refused = await api.gql(
        "query($id: ID!) { customer(id: $id) { name email phone } }", {"id": customer_id}, marketer
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for bad in (BAD_TOKEN, admin[:-3] + "abc", api_secret + "x"):
        result = await api.gql("{ customers { nodes { email } } }", token=bad)
        assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    wrong = data(await api.gql(LOGIN, {"email": ADMIN_EMAIL, "password": WRONG_PASSWORD}))
    assert wrong["login"]["errors"] == [{"code": "INVALID_CREDENTIALS"}]
    invalid = await api.gql(
        CREATE_CUSTOMER,
        {"input": {"externalId": "c-2", "email": "not-an-address" + CUSTOMER_PHONE}},
        admin,
    )
    assert data(invalid)["createCustomer"]["errors"] == [{"code": "INVALID_EMAIL"}]

    # Refused up front: a lone surrogate no database driver can store, beside personal data.
    # (An unexpected error's logging is checked in test_http with a schema whose resolver raises.)
    body = {
        "query": CREATE_CUSTOMER,
        "variables": {
            "input": {"externalId": "c-3\ud800", "email": CUSTOMER_EMAIL, "phone": CUSTOMER_PHONE}
        },
    }
    response = await api.client.post(
        "/graphql",
        content=json.dumps(body),  # ASCII, with the surrogate escaped as JSON allows
        headers={"Authorization": f"Bearer {admin}", "Content-Type": "application/json"},
    )
    broken = response.json()
    assert broken["data"] is None
    assert broken["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT", broken
    return [
        ADMIN_EMAIL,
        PASSWORD,
        WRONG_PASSWORD,
        CUSTOMER_EMAIL,
        CUSTOMER_PHONE,
        DEVICE_TOKEN,
        EVIDENCE_IP,
        admin,
        admin.rsplit(".", 1)[1],  # a token's signature alone is as good as the token
        customer_token,
        customer_token.rsplit(".", 1)[1],
        api_secret,
        BAD_TOKEN,
    ]


async def test_nothing_personal_or_secret_is_logged(api, db, all_logs, caplog, capsys):
    secrets = await run_session(api, db)
    assert all_logs.lines, "nothing was captured: the test would prove nothing"
    captured = capsys.readouterr()
    texts = [*all_logs.lines, caplog.text, captured.out, captured.err]
    assert not leaks(texts, secrets)


async def test_the_capture_would_see_a_leak(db, all_logs):
    """The SQL loggers, when asked for, do print parameters: proof the capture above works.
    The email is encrypted before it reaches the driver, so even then only its ciphertext is
    logged; the plain externalId shows the parameters are there."""
    levels = {name: logging.getLogger(name).level for name in SQL_LOGGERS}
    try:
        for name in SQL_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        app = create_app(make_settings(db, TIDINGS_LOG_SQL="true"), manage_database=False)
        import httpx

        from tests.conftest import Api

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            api = Api(client=client, app=app)
            _, admin = await api.staff(Role.ADMIN)
            data(
                await api.gql(
                    CREATE_CUSTOMER,
                    {"input": {"externalId": "ext-logprobe-7731", "email": CUSTOMER_EMAIL}},
                    admin,
                )
            )
        assert leaks(all_logs.lines, ["ext-logprobe-7731"])
        assert not leaks(all_logs.lines, [CUSTOMER_EMAIL])
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


async def test_the_app_quiets_the_sql_loggers(db):
    for name in SQL_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    create_app(make_settings(db), manage_database=False)
    for name in SQL_LOGGERS:
        assert logging.getLogger(name).getEffectiveLevel() >= logging.INFO, name


async def test_log_sql_turns_the_sql_loggers_on(db):
    """TIDINGS_LOG_SQL=true is what it says: queries are logged at DEBUG, whatever level the
    process's logging (INFO for the `tidings` command) gives everything else."""
    levels = {name: logging.getLogger(name).level for name in SQL_LOGGERS}
    try:
        for name in SQL_LOGGERS:
            logging.getLogger(name).setLevel(logging.NOTSET)
        create_app(make_settings(db, TIDINGS_LOG_SQL="true"), manage_database=False)
        for name in SQL_LOGGERS:
            assert logging.getLogger(name).getEffectiveLevel() == logging.DEBUG, name
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

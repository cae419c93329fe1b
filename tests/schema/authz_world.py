"""A small world for the authorisation tests: staff of every role, agents with and without
access grants, two customers with personal data, API keys of every role, sent messages (one
delivery really FAILED by a mail server, with a provider error), and an oracle (written
independently of `core/viewer.py` and `core/delivery/messages.py`) saying who may see and
read what."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher

from tests.conftest import PASSWORD
from tidings.core.delivery.sending import SendRequest
from tidings.core.enums import AccessAction, CategoryKind, DeliveryStatus, Platform, Role
from tidings.core.models import AccessGrant, Customer, Staff
from tidings.core.models.messages import Delivery, DeliveryEvent, Message
from tidings.core.services.categories import CategoryFields
from tidings.core.services.consent import GrantRequest
from tidings.core.services.customers import CustomerFields
from tidings.core.tokens import TokenKind
from tidings.core.viewer import Viewer, ViewerKind

# One argon2 hash for every staff member the world creates: hashing is slow on purpose.
PASSWORD_HASH = PasswordHasher().hash(PASSWORD)

TARGET_EMAIL = "pii.target.q7x@example.org"
TARGET_PHONE = "+14155550199"
TARGET_DEVICE_TOKEN = "devtok-" + "Z9q8W7e6R5t4Y3u2I1o0" * 2
EVIDENCE_IP = "203.0.113.77"
EVIDENCE_AGENT = "SecretBrowser/9.7"
OTHER_EMAIL = "pii.other.k3m@example.org"
OTHER_PHONE = "+442079460958"
OTHER_DEVICE_TOKEN = "devtok-" + "Mn8Bv7Cx6Zl5Kj4Hg3Fd" * 2
# The mail server refuses the target's address at RCPT, quoting it (the provider scrubs it).
REFUSED_RCPT = f"550 5.1.1 <{TARGET_EMAIL}>: Recipient address rejected q7x"
# What ADMIN, and only ADMIN, reads as that delivery's `lastError`.
REFUSED_ERROR_PART = "Recipient address rejected q7x"
# What ADMIN, and only ADMIN, reads as the `detail` of that delivery's feedback event.
EVENT_DETAIL = "bounce diagnostic: mailbox gone r8y"

SENT_CATEGORY = "account"

# How the ledger names a caller (`created_by`): the contract's "staff:<id>", "api_key:<id>".
LEDGER_KIND = {ViewerKind.STAFF: "staff", ViewerKind.API_KEY: "api_key"}
CONTENT_ROLES = (Role.ADMIN, Role.MARKETER, Role.AGENT)  # every staff role but AUDITOR


@dataclass
class Caller:
    """Someone calling the API; `token()` is fresh, so revocations between calls do not bite."""

    name: str
    kind: ViewerKind
    id: uuid.UUID
    role: Role | None = None
    secret: str | None = None  # API keys
    reads: frozenset[uuid.UUID] = frozenset()  # agents: customers it may read (READ grant)
    sees: frozenset[uuid.UUID] = frozenset()  # agents: customers it may see (any active grant)

    async def token(self, api: Any) -> str:
        if self.kind is ViewerKind.API_KEY:
            assert self.secret
            return self.secret
        if self.kind is ViewerKind.STAFF:
            version = (await Staff.get(id=self.id)).token_version
            return api.runtime.signer.issue(TokenKind.STAFF, self.id, version)
        version = (await Customer.get(id=self.id)).token_version
        return api.runtime.signer.issue(TokenKind.CUSTOMER, self.id, version)

    # The oracle ------------------------------------------------------------------------

    def may_see_customer(self, customer_id: uuid.UUID) -> bool:
        if self.kind is ViewerKind.CUSTOMER:
            return customer_id == self.id
        if self.role in (Role.ADMIN, Role.MARKETER, Role.AUDITOR):
            return True
        return self.kind is ViewerKind.STAFF and customer_id in self.sees

    def may_read_customer(self, customer_id: uuid.UUID) -> bool:
        if self.kind is ViewerKind.CUSTOMER:
            return customer_id == self.id
        if self.role is Role.ADMIN:
            return True
        return self.kind is ViewerKind.STAFF and customer_id in self.reads

    def may_read_staff_email(self, staff_id: uuid.UUID) -> bool:
        if self.role is Role.ADMIN:
            return True
        return self.kind is ViewerKind.STAFF and self.id == staff_id

    @property
    def ledger_name(self) -> str | None:
        kind = LEDGER_KIND.get(self.kind)
        return f"{kind}:{self.id}" if kind else None

    def may_see_message(self, created_by: str) -> bool:
        """Staff see every message but agents, who see the ones they sent; customers none."""
        if self.role in (Role.ADMIN, Role.MARKETER, Role.AUDITOR):
            return True
        return self.role is Role.AGENT and created_by == self.ledger_name

    def may_read_message_content(self, created_by: str) -> bool:
        return self.may_see_message(created_by) and self.role in CONTENT_ROLES

    def may_see_templates(self) -> bool:
        return self.role is not None  # any staff role, and API keys

    def may_read_template_content(self) -> bool:
        return self.role in CONTENT_ROLES

    def may_read_delivery_error(self, created_by: str) -> bool:
        return self.may_see_message(created_by) and self.role is Role.ADMIN


@dataclass
class World:
    admin: Caller
    target: uuid.UUID  # the customer whose personal data the tests try to reach
    other: uuid.UUID  # another customer
    scratch_agent: uuid.UUID  # a target for grantAccess / updateStaff, never a caller
    worker: Any = None  # the app's delivery worker: `await world.worker.run_once()`
    callers: dict[str, Caller] = field(default_factory=dict)
    staff_ids: dict[str, uuid.UUID] = field(default_factory=dict)
    api_key_secrets: list[str] = field(default_factory=list)
    messages: dict[str, uuid.UUID] = field(default_factory=dict)  # "broadcast", "AGENT_READ", ...
    failed_delivery: uuid.UUID | None = None  # the broadcast's email to the target: 550 at RCPT

    @property
    def admin_viewer(self) -> Viewer:
        return Viewer(kind=ViewerKind.STAFF, id=self.admin.id, role=Role.ADMIN)


async def new_staff(role: Role, label: str) -> Staff:
    return await Staff.create(
        email=f"staff.{label}.{secrets.token_hex(3)}@corp.example",
        password_hash=PASSWORD_HASH,
        role=role,
    )


async def build_world(api: Any) -> World:
    services = api.runtime.services
    staff = {
        "ADMIN": await new_staff(Role.ADMIN, "admin"),
        "MARKETER": await new_staff(Role.MARKETER, "marketer"),
        "AUDITOR": await new_staff(Role.AUDITOR, "auditor"),
        "AGENT_NO_GRANT": await new_staff(Role.AGENT, "agent0"),
        "AGENT_NO_READ": await new_staff(Role.AGENT, "agent1"),
        "AGENT_READ": await new_staff(Role.AGENT, "agent2"),
        "AGENT_EXPIRED": await new_staff(Role.AGENT, "agent3"),
        "AGENT_REVOKED": await new_staff(Role.AGENT, "agent4"),
    }
    scratch = await new_staff(Role.AGENT, "scratch")
    admin = Viewer(kind=ViewerKind.STAFF, id=staff["ADMIN"].id, role=Role.ADMIN)

    await services.categories.create(
        admin, CategoryFields(key="news", name="News", kind=CategoryKind.MARKETING)
    )
    # What the world sends: transactional, so neither consent nor digests nor caps hold it.
    await services.categories.create(
        admin, CategoryFields(key=SENT_CATEGORY, name="Account", kind=CategoryKind.TRANSACTIONAL)
    )
    target = await services.customers.create(
        admin,
        CustomerFields(
            external_id="ext-target", name="Tara Target", email=TARGET_EMAIL, phone=TARGET_PHONE
        ),
    )
    other = await services.customers.create(
        admin,
        CustomerFields(
            external_id="ext-other", name="Otto Other", email=OTHER_EMAIL, phone=OTHER_PHONE
        ),
    )
    await services.customers.register_device(admin, target.id, Platform.IOS, TARGET_DEVICE_TOKEN)
    await services.customers.register_device(admin, other.id, Platform.ANDROID, OTHER_DEVICE_TOKEN)
    evidence = {"ip": EVIDENCE_IP, "userAgent": EVIDENCE_AGENT, "notice": "v3"}
    await services.consent.grant(
        admin, target.id, GrantRequest("email", "news", "signup_form", evidence)
    )
    own = Viewer(kind=ViewerKind.CUSTOMER, id=target.id)
    await services.consent.grant(
        own, None, GrantRequest("push", "news", "preference_center", {"ip": EVIDENCE_IP})
    )

    grant = services.access.grant
    await grant(admin, staff["AGENT_NO_READ"].id, target.id, [AccessAction.REPLY], None)
    send_read = [AccessAction.READ, AccessAction.SEND]
    await grant(admin, staff["AGENT_READ"].id, target.id, send_read, None)
    await AccessGrant.create(
        staff_id=staff["AGENT_EXPIRED"].id,
        customer_id=target.id,
        actions=["READ", "REPLY"],
        expires_at=datetime.now(UTC) - timedelta(minutes=1),
        created_by=admin.ref,
    )
    revoked = await grant(admin, staff["AGENT_REVOKED"].id, target.id, send_read, None)
    # Each sender one message; the revoked agent sent its own before losing the customer.
    # After one worker round: the broadcast's email to the target FAILED INVALID_ADDRESS (the
    # mail server's 550, kept as lastError), to the other customer SENT; the agents' pushes
    # FAILED NO_PROVIDER (no FCM configured; no lastError).
    sent = {
        "broadcast": await send(api, staff["MARKETER"], [target.id, other.id], "email"),
        "AGENT_READ": await send(api, staff["AGENT_READ"], [target.id], "push"),
        "AGENT_REVOKED": await send(api, staff["AGENT_REVOKED"], [target.id], "push"),
    }
    await services.access.revoke(admin, revoked.id)
    # A stored template: message content too, so AUDITOR may list it but not read it.
    await services.messages.set_template(
        admin,
        SENT_CATEGORY,
        "email",
        "en",
        f"Template title {secrets.token_hex(4)}",
        f"Template body {secrets.token_hex(4)}",
        None,
    )
    await api.runtime.worker.run_once()
    failed = await Delivery.get(message_id=sent["broadcast"], customer_id=target.id)
    assert (failed.status, failed.reason) == (DeliveryStatus.FAILED, "INVALID_ADDRESS")
    assert failed.last_error and REFUSED_ERROR_PART in failed.last_error, failed.last_error
    # The provider's feedback about it: its detail is for ADMIN, as lastError is.
    await DeliveryEvent.create(
        delivery_id=failed.id,
        kind="BOUNCED",
        at=datetime.now(UTC),
        permanent=True,
        detail=EVENT_DETAIL,
        provider="smtp",
        fingerprint=secrets.token_hex(32),
    )

    def staff_caller(name: str, **kw: Any) -> Caller:
        row = staff[name]
        return Caller(name, ViewerKind.STAFF, row.id, row.role, **kw)

    both = frozenset({target.id})
    callers = [
        staff_caller("ADMIN"),
        staff_caller("MARKETER"),
        staff_caller("AUDITOR"),
        staff_caller("AGENT_NO_GRANT"),
        staff_caller("AGENT_NO_READ", sees=both),
        staff_caller("AGENT_READ", sees=both, reads=both),
        staff_caller("AGENT_EXPIRED"),
        staff_caller("AGENT_REVOKED"),
        Caller("CUSTOMER_SELF", ViewerKind.CUSTOMER, target.id),
        Caller("CUSTOMER_OTHER", ViewerKind.CUSTOMER, other.id),
    ]
    world = World(
        admin=callers[0],
        target=target.id,
        other=other.id,
        scratch_agent=scratch.id,
        worker=api.runtime.worker,
        staff_ids={name: row.id for name, row in staff.items()},
        messages=sent,
        failed_delivery=failed.id,
    )
    for role in Role:
        key, secret = await services.api_keys.create(None, f"backend-{role.value}", role)
        callers.append(Caller(f"KEY_{role.name}", ViewerKind.API_KEY, key.id, role, secret))
        world.api_key_secrets.append(secret)
    world.callers = {c.name: c for c in callers}
    return world


async def send(api: Any, sender: Staff, to: list[uuid.UUID], channel: str) -> uuid.UUID:
    """A message from `sender`, through the real send service; its content is unique."""
    viewer = Viewer(kind=ViewerKind.STAFF, id=sender.id, role=sender.role)
    mark = secrets.token_hex(4)
    request = SendRequest(
        idempotency_key=f"world-{mark}",
        category=SENT_CATEGORY,
        customer_ids=tuple(to),
        channels=(channel,),
        title=f"Confidential title {mark}",
        body=f"Confidential body {mark}: the sale starts Monday.",
    )
    message: Message = await api.runtime.services.sending.send(viewer, request)
    return message.id


async def failed_delivery(world: World) -> uuid.UUID:
    """The world's FAILED delivery, failed again for real if a test queued it again."""
    assert world.failed_delivery
    row = await Delivery.get(id=world.failed_delivery)
    if row.status is not DeliveryStatus.FAILED:
        await world.worker.run_once()
        row = await Delivery.get(id=world.failed_delivery)
    assert row.status is DeliveryStatus.FAILED, (row.status, row.reason)
    return row.id

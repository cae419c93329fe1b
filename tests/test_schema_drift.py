"""The committed schema.graphql matches the code, and the code keeps CONTRACT.md's names.

The contract's core schema is copied below (as SDL, so it reads like CONTRACT.md) for what is
implemented so far; CI has no access to CONTRACT.md itself. The implementation may add
types, fields and arguments with defaults; it may not rename, drop or retype what is here.
"""

from __future__ import annotations

import re

from graphql import (
    EnumTypeDefinitionNode,
    InputObjectTypeDefinitionNode,
    InterfaceTypeDefinitionNode,
    NonNullTypeNode,
    NullValueNode,
    ObjectTypeDefinitionNode,
    ScalarTypeDefinitionNode,
    UnionTypeDefinitionNode,
    parse,
    print_ast,
)

from tidings.schema import SCHEMA_FILE, export_sdl

CONTRACT_SDL = """
scalar DateTime
scalar JSON

enum Role { ADMIN MARKETER AGENT AUDITOR }
enum Tier { HIGH_VALUE POTENTIAL ORDINARY }
enum CategoryKind { TRANSACTIONAL MARKETING }
enum GrantStatus { GRANTED WITHDRAWN EXPIRED }
enum Frequency { REALTIME DAILY_DIGEST WEEKLY_DIGEST }
enum AccessAction { READ REPLY FORWARD SEND }
enum Platform { IOS ANDROID WEB }
enum DeliveryStatus { SUPPRESSED DEFERRED QUEUED SENT DELIVERED FAILED }
enum MessageStatus { ACCEPTED EXPANDED }
enum DeliveryReason {
  NO_PERMISSION OPTED_OUT NO_ADDRESS FREQUENCY_CAP QUIET_HOURS DIGEST
  INVALID_ADDRESS REJECTED RETRIES_EXHAUSTED NO_PROVIDER
}
enum RuleVerdict { PASS STOP SKIP }

type UserError { code: String! field: String message: String! }

interface Node { id: ID! }

type Customer implements Node {
  id: ID!
  externalId: String!
  name: String
  email: String
  phone: String
  emailMasked: String
  locale: String!
  timezone: String!
  tier: Tier!
  permissionGrants: [PermissionGrant!]!
  permissionHistory(first: Int = 50, after: String): PermissionGrantConnection!
  preferences: [Preference!]!
  devices: [Device!]
}

type PermissionGrant implements Node {
  id: ID!
  channel: String!
  category: String!
  status: GrantStatus!
  source: String!
  grantedAt: DateTime
  withdrawnAt: DateTime
  expiresAt: DateTime
}

type QuietHours { start: String! end: String! }

type Preference {
  category: String!
  channels: [String!]!
  frequency: Frequency!
  quietHours: QuietHours
}

type Category {
  key: String!
  name: String!
  kind: CategoryKind!
  defaultChannels: [String!]!
  respectQuietHours: Boolean!
  required: Boolean!
  fallbackChannel: String
}

type Staff implements Node { id: ID! email: String role: Role! }
type ApiKey implements Node {
  id: ID! name: String! role: Role! createdAt: DateTime! lastUsedAt: DateTime
}
type Device implements Node {
  id: ID! platform: Platform! createdAt: DateTime! lastSeenAt: DateTime
}

type AccessGrant implements Node {
  id: ID!
  staff: Staff!
  customer: Customer
  actions: [AccessAction!]!
  expiresAt: DateTime
}

union Viewer = Staff | Customer | ApiKey

type Channel { name: String! providers: [String!]! }

type Delivery {
  id: ID!
  customer: Customer
  channel: String!
  status: DeliveryStatus!
  reason: DeliveryReason
  attempts: Int!
  message: Message!
}

type DeliveryCount { status: DeliveryStatus! count: Int! }

type Message implements Node {
  id: ID!
  category: Category!
  status: MessageStatus!
  createdAt: DateTime!
  title: String
  body: String
  deliveryCounts: [DeliveryCount!]!
  deliveries(first: Int = 50, after: String): DeliveryConnection!
}

type Notification {
  id: ID!
  category: String!
  title: String!
  body: String!
  data: JSON
  createdAt: DateTime!
  readAt: DateTime
}

type RuleOutcome { rule: String! verdict: RuleVerdict! detail: String }
type DeliveryExplanation { status: DeliveryStatus!  reason: DeliveryReason  rules: [RuleOutcome!]! }

type Query {
  node(id: ID!): Node
  me: Viewer
  customer(id: ID!): Customer
  customers(first: Int = 20, after: String, tier: Tier, search: String): CustomerConnection
  message(id: ID!): Message
  categories: [Category!]
  channels: [Channel!]
  explainDelivery(customerId: ID!, category: String!, channel: String!): DeliveryExplanation
  inbox(first: Int = 20, after: String, unreadOnly: Boolean = false): NotificationConnection
  unreadCount: Int
}

type Mutation {
  login(email: String!, password: String!): LoginPayload
  createStaff(input: CreateStaffInput!): StaffPayload
  grantAccess(input: GrantAccessInput!): AccessGrantPayload
  createCategory(input: CreateCategoryInput!): CategoryPayload
  createCustomer(input: CreateCustomerInput!): CustomerPayload
  issueCustomerToken(customerId: ID!): TokenPayload
  grantPermission(input: GrantPermissionInput!): PermissionGrantPayload
  withdrawPermission(input: WithdrawPermissionInput!): PermissionGrantPayload
  setPreference(input: SetPreferenceInput!): PreferencePayload
  registerDevice(input: RegisterDeviceInput!): DevicePayload
  send(input: SendInput!): SendPayload
  removeDevice(id: ID!): DevicePayload
  markRead(ids: [ID!]!): InboxPayload
  markAllRead: InboxPayload
  archive(ids: [ID!]!): InboxPayload
}

type LoginPayload { token: String  errors: [UserError!]! }
type TokenPayload { token: String  errors: [UserError!]! }
type StaffPayload { staff: Staff  errors: [UserError!]! }
type AccessGrantPayload { accessGrant: AccessGrant  errors: [UserError!]! }
type CategoryPayload { category: Category  errors: [UserError!]! }
type CustomerPayload { customer: Customer  errors: [UserError!]! }
type PermissionGrantPayload { grant: PermissionGrant  errors: [UserError!]! }
type PreferencePayload { preference: Preference  errors: [UserError!]! }
type DevicePayload { device: Device  errors: [UserError!]! }
type SendPayload { message: Message  errors: [UserError!]! }
type InboxPayload { unreadCount: Int!  errors: [UserError!]! }
type InboxUpdate { unreadCount: Int!  readIds: [ID!]!  archivedIds: [ID!]! }

input CreateStaffInput { email: String!  password: String!  role: Role! }
input GrantAccessInput { staffId: ID!  customerId: ID!  actions: [AccessAction!]!
                         expiresAt: DateTime }
input CreateCategoryInput { key: String!  name: String!  kind: CategoryKind!
                            defaultChannels: [String!]  respectQuietHours: Boolean
                            required: Boolean  fallbackChannel: String }
input CreateCustomerInput { externalId: String!  name: String  email: String  phone: String
                            locale: String  timezone: String  tier: Tier  attributes: JSON }
input GrantPermissionInput { customerId: ID  channel: String!  category: String!  source: String!
                             evidence: JSON  expiresAt: DateTime }
input WithdrawPermissionInput { customerId: ID  channel: String!  category: String!
                                source: String! }
input QuietHoursInput { start: String!  end: String! }
input SetPreferenceInput { customerId: ID  category: String!  channels: [String!]!
                           frequency: Frequency!  quietHours: QuietHoursInput }
input RegisterDeviceInput { customerId: ID  platform: Platform!  token: String! }
input SendInput {
  idempotencyKey: String!
  category: String!
  to: AudienceInput!
  channels: [String!]
  content: ContentInput
  data: JSON
}
input AudienceInput @oneOf { customerId: ID  customerIds: [ID!]  tier: Tier }
input ContentInput { title: String!  body: String! }

type Subscription {
  notifications: Notification!
  inboxUpdates: InboxUpdate!
  deliveryUpdates(messageId: ID!): Delivery!
}
"""

# Contract names not implemented yet, and the issue that adds them. When one appears in the
# schema, copy its contract definition into CONTRACT_SDL above and drop it from here.
# (Issues 3 and 4 have landed: sending, the inbox and the subscriptions are all above.)
PENDING: dict[str, int] = {}

WITH_FIELDS = (ObjectTypeDefinitionNode, InterfaceTypeDefinitionNode)


def by_name(sdl: str) -> dict:
    return {d.name.value: d for d in parse(sdl).definitions if hasattr(d, "name")}


def absent_or_null(default: object) -> bool:
    return default is None or isinstance(default, NullValueNode)


def compare_values(where: str, expected: list, actual: list) -> list[str]:
    """Arguments or input fields: same names, types and defaults; additions optional."""
    problems = []
    ours = {item.name.value: item for item in actual or ()}
    for item in expected or ():
        name = f"{where}({item.name.value})"
        found = ours.pop(item.name.value, None)
        if found is None:
            problems.append(f"{name} is missing")
            continue
        if print_ast(found.type) != print_ast(item.type):
            problems.append(f"{name}: {print_ast(found.type)}, contract {print_ast(item.type)}")
        if item.default_value is not None:
            if found.default_value is None or print_ast(found.default_value) != print_ast(
                item.default_value
            ):
                problems.append(f"{name}: default differs from {print_ast(item.default_value)}")
        elif not absent_or_null(found.default_value):
            problems.append(f"{name}: has a default the contract does not give")
    for name, extra in ours.items():
        if isinstance(extra.type, NonNullTypeNode) and extra.default_value is None:
            problems.append(f"{where}({name}) is an added required value: clients would break")
    return problems


def contract_problems(contract_sdl: str, our_sdl: str) -> list[str]:
    problems: list[str] = []
    ours = by_name(our_sdl)
    for name, expected in by_name(contract_sdl).items():
        actual = ours.get(name)
        if actual is None or type(actual) is not type(expected):
            problems.append(f"{name}: missing, or not a {type(expected).__name__}")
            continue
        if isinstance(expected, EnumTypeDefinitionNode):
            missing = {v.name.value for v in expected.values} - {
                v.name.value for v in actual.values
            }
            problems += [f"{name}.{value} is missing" for value in sorted(missing)]
        elif isinstance(expected, UnionTypeDefinitionNode):
            if {t.name.value for t in actual.types} != {t.name.value for t in expected.types}:
                problems.append(f"{name}: members differ")
        elif isinstance(expected, InputObjectTypeDefinitionNode):
            problems += compare_values(name, expected.fields, actual.fields)
        elif isinstance(expected, WITH_FIELDS):
            interfaces = {i.name.value for i in actual.interfaces or ()}
            for interface in expected.interfaces or ():
                if interface.name.value not in interfaces:
                    problems.append(f"{name} does not implement {interface.name.value}")
            fields = {f.name.value: f for f in actual.fields}
            for field in expected.fields:
                found = fields.get(field.name.value)
                where = f"{name}.{field.name.value}"
                if found is None:
                    problems.append(f"{where} is missing")
                    continue
                if print_ast(found.type) != print_ast(field.type):
                    problems.append(
                        f"{where}: {print_ast(found.type)}, contract {print_ast(field.type)}"
                    )
                problems += compare_values(where, field.arguments, found.arguments)
        else:
            assert isinstance(expected, ScalarTypeDefinitionNode)
    return problems


def test_committed_schema_matches_the_code():
    committed = SCHEMA_FILE.read_text() if SCHEMA_FILE.exists() else ""
    assert committed == export_sdl(), (
        "schema.graphql is out of date with the code: run `make schema` and commit the result"
    )


def test_schema_keeps_the_contract():
    problems = contract_problems(CONTRACT_SDL, export_sdl())
    assert not problems, "the schema breaks CONTRACT.md:\n  " + "\n  ".join(problems)


def test_the_contract_check_catches_breaks():
    """The checker itself: each kind of break is reported."""
    ours = by_name(export_sdl())
    assert "Customer" in ours and "Query" in ours
    # An enum value goes with its description, if it has one; described arguments are printed
    # one a line.
    without_value = re.sub(r'  (""".*"""\n  )?HIGH_VALUE\n', "", export_sdl())
    other_default = re.sub(
        r"(\n  customers\((?:\n.*?)*?first: Int = )20", r"\g<1>50", without_value
    )
    broken = (
        other_default.replace("externalId: String!", "externalId: String")
        .replace("union Viewer = Staff | Customer | ApiKey", "union Viewer = Staff | Customer")
        .replace("  phone: String = null\n", "  phone: String = null\n  tag: String!\n")
    )
    problems = "\n".join(contract_problems(CONTRACT_SDL, broken))
    assert "Customer.externalId: String, contract String!" in problems
    assert "Query.customers(first): default differs from 20" in problems
    assert "Tier.HIGH_VALUE is missing" in problems
    assert "Viewer: members differ" in problems
    assert "CreateCustomerInput(tag) is an added required value" in problems


def test_pending_contract_names_are_still_pending():
    ours = by_name(export_sdl())
    contract = by_name(CONTRACT_SDL)
    arrived = []
    for name, issue in PENDING.items():
        type_name, _, field = name.partition(".")
        if field:
            fields = {f.name.value for f in getattr(ours.get(type_name), "fields", ())}
            present = field in fields and field not in {
                f.name.value for f in contract[type_name].fields
            }
        else:
            present = type_name in ours
        if present:
            arrived.append(f"{name} (issue {issue})")
    assert not arrived, (
        "implemented now, so check it against the contract: copy its definition from "
        "CONTRACT.md into CONTRACT_SDL and remove it from PENDING: " + ", ".join(arrived)
    )

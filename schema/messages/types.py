"""GraphQL types for messages and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from tidings.core.models.messages import Delivery as DeliveryModel
from tidings.core.models.messages import Message as MessageModel
from tidings.core.models.messages import Template as TemplateModel
from tidings.core.pagination import PageKey
from tidings.core.policy import RuleOutcome as PolicyRuleOutcome
from tidings.schema.categories.types import Category
from tidings.schema.context import Info
from tidings.schema.enums import (
    DeliveryReasonEnum,
    DeliveryStatusEnum,
    MessageStatusEnum,
    delivery_reason,
)
from tidings.schema.ids import to_global_id
from tidings.schema.messages.outcomes import DeliveryEvent, RuleOutcome
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadDeliveryErrors, CanReadMessageContent
from tidings.schema.relay import AFTER, FIRST, Connection, connection, page_size

if TYPE_CHECKING:
    from tidings.schema.customers.types import Customer

CustomerType = Annotated["Customer", strawberry.lazy("tidings.schema.customers.types")]


@strawberry.type(
    description="One recipient on one channel of a message: decided by the policy engine, then "
    "sent by a worker. Seen by whoever may see its message."
)
class Delivery(Node):
    channel: str = strawberry.field(
        description='The channel: "email", "sms", "push", "in_app", or one a plugin adds.'
    )
    status: DeliveryStatusEnum = strawberry.field(description="Where the delivery stands.")
    reason: DeliveryReasonEnum | None = strawberry.field(
        description="Why it is SUPPRESSED, DEFERRED or FAILED; null otherwise."
    )
    attempts: int = strawberry.field(
        description="Times a provider was tried; reset to 0 when an admin retries it."
    )
    not_before: datetime | None = strawberry.field(
        description="Not sent before this time: the end of quiet hours, the digest, or the "
        "next retry after a transient failure."
    )
    provider: str | None = strawberry.field(
        description='The provider that last tried it (e.g. "smtp"); null before any attempt.'
    )
    created_at: datetime = strawberry.field(description="When it was decided.")
    updated_at: datetime = strawberry.field(description="When it last changed.")
    delivered_at: datetime | None = strawberry.field(
        default=None,
        description="When it arrived, by the first receipt the provider reported; null: none.",
    )
    opened_at: datetime | None = strawberry.field(
        default=None,
        description="When it was first opened: reported by the provider, the tracked mail's "
        "pixel, markRead or the app (recordEngagement); null: not yet.",
    )
    clicked_at: datetime | None = strawberry.field(
        default=None,
        description="When it was first clicked: reported by the provider, a tracked link or "
        "the app (recordEngagement); null: not yet.",
    )
    rules: list[RuleOutcome] = strawberry.field(
        description="The policy rules as they spoke when it was decided."
    )
    customer_uuid: strawberry.Private[uuid.UUID]
    message_uuid: strawberry.Private[uuid.UUID]
    error_value: strawberry.Private[str | None]
    delivery_uuid: strawberry.Private[uuid.UUID]

    @strawberry.field(description="The recipient, under your usual visibility.")
    async def customer(self, info: Info) -> CustomerType | None:
        from tidings.schema.customers.types import Customer

        row = await info.context.loaders.customers.load(self.customer_uuid)
        return Customer.from_model(row) if row else None

    @strawberry.field(description="The message this delivery belongs to.")
    async def message(self, info: Info) -> Message:
        row = await info.context.loaders.messages.load(self.message_uuid)
        # A delivery is only ever reached through a message the caller may see.
        assert row is not None, "a delivery's message is visible wherever the delivery is"
        return Message.from_model(row)

    @strawberry.field(
        description="The provider's last error (it may quote an address). ADMIN only: null "
        "with FORBIDDEN for other callers.",
        permission_classes=[CanReadDeliveryErrors],
    )
    def last_error(self) -> str | None:
        return self.error_value

    @strawberry.field(
        description="Every piece of feedback the provider reported, in the order it happened "
        "(receipts, bounces, complaints, opens, clicks, replies); empty when none."
    )
    async def events(self, info: Info) -> list[DeliveryEvent]:
        rows = await info.context.loaders.delivery_events.load(self.delivery_uuid)
        return [DeliveryEvent.from_model(row) for row in rows]

    @classmethod
    def from_model(cls, row: DeliveryModel) -> Delivery:
        return cls(
            id=to_global_id("Delivery", row.id),
            channel=row.channel,
            status=row.status,
            reason=delivery_reason(row.reason),
            attempts=row.attempts,
            not_before=row.not_before,
            provider=row.provider,
            created_at=row.created_at,
            updated_at=row.updated_at,
            delivered_at=row.delivered_at,
            opened_at=row.opened_at,
            clicked_at=row.clicked_at,
            rules=[
                RuleOutcome.from_rule(PolicyRuleOutcome.from_stored(r)) for r in row.rules or []
            ],
            customer_uuid=row.customer_id,
            message_uuid=row.message_id,
            error_value=row.last_error,
            delivery_uuid=row.id,
        )


@strawberry.type(description="How many of a message's deliveries stand at one status.")
class DeliveryCount:
    status: DeliveryStatusEnum = strawberry.field(description="The status counted.")
    count: int = strawberry.field(description="Deliveries at that status (at least 1).")


@strawberry.type(
    description="One send: its content and audience, and a delivery per recipient and channel. "
    "Staff see every message, but an AGENT only those it sent; customers none (their "
    "notifications are the inbox)."
)
class Message(Node):
    status: MessageStatusEnum = strawberry.field(
        description="ACCEPTED until every recipient's deliveries exist, then EXPANDED."
    )
    created_at: datetime = strawberry.field(description="When it was sent.")
    schedule_at: datetime | None = strawberry.field(
        description="When it is decided and delivered, if `send` scheduled it; null for now."
    )
    category_key: strawberry.Private[str]
    message_uuid: strawberry.Private[uuid.UUID]
    title_value: strawberry.Private[str | None]
    body_value: strawberry.Private[str | None]

    @strawberry.field(description="What the message is about.")
    async def category(self, info: Info) -> Category:
        row = await info.context.loaders.categories.load(self.category_key)
        assert row is not None, "categories are never deleted"
        return Category.from_model(row)

    @strawberry.field(
        description="The title as sent (null for a templated send). Null with FORBIDDEN for "
        "AUDITOR, who reads no content.",
        permission_classes=[CanReadMessageContent],
    )
    def title(self) -> str | None:
        return self.title_value

    @strawberry.field(
        description="The body as sent (null for a templated send). Null with FORBIDDEN for "
        "AUDITOR, who reads no content.",
        permission_classes=[CanReadMessageContent],
    )
    def body(self) -> str | None:
        return self.body_value

    @strawberry.field(description="One count per status present, in DeliveryStatus order.")
    async def delivery_counts(self, info: Info) -> list[DeliveryCount]:
        counts = await info.context.loaders.delivery_counts.load(self.message_uuid)
        return [DeliveryCount(status=status, count=count) for status, count in counts]

    @strawberry.field(description="The message's deliveries, oldest first.")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> Connection[Delivery]:
        size = page_size(first, info.context.max_page_size, 50)
        page = await info.context.loaders.deliveries.load(PageKey(self.message_uuid, size, after))
        return connection(page, Delivery.from_model)

    @classmethod
    def from_model(cls, row: MessageModel) -> Message:
        return cls(
            id=to_global_id("Message", row.id),
            category_key=row.category,
            status=row.status,
            created_at=row.created_at,
            schedule_at=row.schedule_at,
            message_uuid=row.id,
            title_value=row.title,
            body_value=row.body,
        )


@strawberry.type(
    description="Stored content for a category, channel and locale (Jinja2, sandboxed), used by "
    "a send without content. Any staff role may list templates; AUDITOR reads no content."
)
class Template(Node):
    category: str = strawberry.field(description="The category's key.")
    channel: str = strawberry.field(description="The channel it is written for.")
    locale: str = strawberry.field(
        description='The BCP 47 locale it is written in, e.g. "zh-CN"; customers get the '
        "template of their locale."
    )
    updated_at: datetime = strawberry.field(description="When it was last set.")
    title_value: strawberry.Private[str]
    body_value: strawberry.Private[str]
    html_value: strawberry.Private[str | None]

    # A template is message content: AUDITOR reads it no more than it reads messages.
    @strawberry.field(
        description="The title template. Null with FORBIDDEN for AUDITOR.",
        permission_classes=[CanReadMessageContent],
    )
    def title(self) -> str | None:
        return self.title_value

    @strawberry.field(
        description="The body template (plain text). Null with FORBIDDEN for AUDITOR.",
        permission_classes=[CanReadMessageContent],
    )
    def body(self) -> str | None:
        return self.body_value

    @strawberry.field(
        description="The HTML body template, for email; null when there is none. Null with "
        "FORBIDDEN for AUDITOR.",
        permission_classes=[CanReadMessageContent],
    )
    def html(self) -> str | None:
        return self.html_value

    @classmethod
    def from_model(cls, row: TemplateModel) -> Template:
        return cls(
            id=to_global_id("Template", row.id),
            category=row.category,
            channel=row.channel,
            locale=row.locale,
            updated_at=row.updated_at,
            title_value=row.title,
            body_value=row.body,
            html_value=row.html,
        )

"""GraphQL types for messages and deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from tidings.core.enums import DeliveryStatus, MessageStatus
from tidings.core.models.messages import Delivery as DeliveryModel
from tidings.core.models.messages import Message as MessageModel
from tidings.core.models.messages import Template as TemplateModel
from tidings.core.policy import Decision
from tidings.schema.context import Info
from tidings.schema.ids import to_global_id
from tidings.schema.node import Node
from tidings.schema.permissions import CanReadDeliveryErrors, CanReadMessageContent
from tidings.schema.relay import Connection, connection, page_size

if TYPE_CHECKING:
    from tidings.schema.customers.types import Customer

DeliveryStatusEnum = strawberry.enum(DeliveryStatus, name="DeliveryStatus")
MessageStatusEnum = strawberry.enum(MessageStatus, name="MessageStatus")
CustomerType = Annotated["Customer", strawberry.lazy("tidings.schema.customers.types")]


@strawberry.type
class RuleOutcome:
    rule: str
    verdict: str
    detail: str | None


@strawberry.type(description="A decision, and every rule that spoke; nothing was sent.")
class DeliveryExplanation:
    status: DeliveryStatusEnum
    reason: str | None
    channel: str
    not_before: datetime | None
    rules: list[RuleOutcome]

    @classmethod
    def from_decision(cls, decision: Decision) -> DeliveryExplanation:
        return cls(
            status=decision.status,
            reason=decision.reason,
            channel=decision.channel,
            not_before=decision.not_before,
            rules=[
                RuleOutcome(rule=r.rule, verdict=r.verdict, detail=r.detail) for r in decision.rules
            ],
        )


@strawberry.type
class Delivery(Node):
    id: strawberry.ID
    channel: str
    status: DeliveryStatusEnum
    reason: str | None
    attempts: int
    not_before: datetime | None
    provider: str | None
    created_at: datetime
    updated_at: datetime
    rules: list[RuleOutcome]
    customer_uuid: strawberry.Private[uuid.UUID]
    message_uuid: strawberry.Private[uuid.UUID]
    error_value: strawberry.Private[str | None]

    @strawberry.field(description="The recipient, under your usual visibility.")
    async def customer(self, info: Info) -> CustomerType | None:
        from tidings.schema.customers.types import Customer

        row = await info.context.loaders.customers.load(self.customer_uuid)
        return Customer.from_model(row) if row else None

    @strawberry.field(
        description="The provider's last error, for admins.",
        permission_classes=[CanReadDeliveryErrors],
    )
    def last_error(self) -> str | None:
        return self.error_value

    @classmethod
    def from_model(cls, row: DeliveryModel) -> Delivery:
        return cls(
            id=to_global_id("Delivery", row.id),
            channel=row.channel,
            status=row.status,
            reason=row.reason,
            attempts=row.attempts,
            not_before=row.not_before,
            provider=row.provider,
            created_at=row.created_at,
            updated_at=row.updated_at,
            rules=[
                RuleOutcome(rule=r["rule"], verdict=r["verdict"], detail=r.get("detail"))
                for r in row.rules or []
            ],
            customer_uuid=row.customer_id,
            message_uuid=row.message_id,
            error_value=row.last_error,
        )


@strawberry.type
class DeliveryCount:
    status: DeliveryStatusEnum
    count: int


@strawberry.type
class Message(Node):
    id: strawberry.ID
    category: str
    status: MessageStatusEnum
    created_at: datetime
    schedule_at: datetime | None
    message_uuid: strawberry.Private[uuid.UUID]
    title_value: strawberry.Private[str | None]
    body_value: strawberry.Private[str | None]

    @strawberry.field(permission_classes=[CanReadMessageContent])
    def title(self) -> str | None:
        return self.title_value

    @strawberry.field(permission_classes=[CanReadMessageContent])
    def body(self) -> str | None:
        return self.body_value

    @strawberry.field(description="One per status present.")
    async def delivery_counts(self, info: Info) -> list[DeliveryCount]:
        counts = await info.context.loaders.delivery_counts.load(self.message_uuid)
        return [DeliveryCount(status=status, count=count) for status, count in counts]

    @strawberry.field
    async def deliveries(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> Connection[Delivery]:
        page = await info.context.services.messages.deliveries(
            self.message_uuid, page_size(first, info.context.max_page_size, 50), after
        )
        return connection(page, Delivery.from_model)

    @classmethod
    def from_model(cls, row: MessageModel) -> Message:
        return cls(
            id=to_global_id("Message", row.id),
            category=row.category,
            status=row.status,
            created_at=row.created_at,
            schedule_at=row.schedule_at,
            message_uuid=row.id,
            title_value=row.title,
            body_value=row.body,
        )


@strawberry.type(description="Content per category, channel and locale (Jinja2, sandboxed).")
class Template(Node):
    id: strawberry.ID
    category: str
    channel: str
    locale: str
    updated_at: datetime
    title_value: strawberry.Private[str]
    body_value: strawberry.Private[str]
    html_value: strawberry.Private[str | None]

    # A template is message content: AUDITOR reads it no more than it reads messages.
    @strawberry.field(permission_classes=[CanReadMessageContent])
    def title(self) -> str | None:
        return self.title_value

    @strawberry.field(permission_classes=[CanReadMessageContent])
    def body(self) -> str | None:
        return self.body_value

    @strawberry.field(permission_classes=[CanReadMessageContent])
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

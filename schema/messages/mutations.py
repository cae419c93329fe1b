"""send, retryDelivery and setTemplate: thin calls into the sending services."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from tidings.core.delivery.sending import SendRequest
from tidings.core.enums import Role
from tidings.schema.context import Info
from tidings.schema.customers.types import TierEnum
from tidings.schema.errors import UserError, attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.messages.types import Delivery, Message, Template
from tidings.schema.permissions import ADMIN_ONLY, staff_roles

SENDERS = staff_roles(Role.ADMIN, Role.MARKETER, Role.AGENT)
TEMPLATE_EDITORS = staff_roles(Role.ADMIN, Role.MARKETER)


@strawberry.input(one_of=True, description="Exactly one of: a customer, a list, a tier.")
class AudienceInput:
    customer_id: strawberry.ID | None = strawberry.UNSET
    customer_ids: list[strawberry.ID] | None = strawberry.UNSET
    tier: TierEnum | None = strawberry.UNSET


@strawberry.input
class ContentInput:
    title: str
    body: str
    html: str | None = None


@strawberry.input
class SendInput:
    idempotency_key: str = strawberry.field(
        description="The same key never sends twice; it returns the first message."
    )
    category: str
    to: AudienceInput
    channels: list[str] | None = strawberry.field(
        default=None,
        description="Default: the customer's preference for the category, else its defaults.",
    )
    content: ContentInput | None = None
    data: JSON | None = None
    schedule_at: datetime | None = strawberry.field(
        default=None, description="Decide and deliver at this time instead of now."
    )

    def to_request(self) -> SendRequest:
        audience = self.to
        customer_ids = None
        if audience.customer_id not in (None, strawberry.UNSET):
            customer_ids = (parse_id(audience.customer_id, "Customer") or MISSING,)
        elif audience.customer_ids not in (None, strawberry.UNSET):
            customer_ids = tuple(
                parse_id(cid, "Customer") or MISSING for cid in audience.customer_ids
            )
        tier = audience.tier if audience.tier not in (None, strawberry.UNSET) else None
        return SendRequest(
            idempotency_key=self.idempotency_key,
            category=self.category,
            customer_ids=customer_ids,
            tier=tier,
            channels=tuple(self.channels) if self.channels is not None else None,
            title=self.content.title if self.content else None,
            body=self.content.body if self.content else None,
            html=self.content.html if self.content else None,
            data=self.data,
            schedule_at=self.schedule_at,
        )


@strawberry.input
class SetTemplateInput:
    category: str
    channel: str
    locale: str
    title: str
    body: str
    html: str | None = None


@strawberry.type
class SendPayload:
    message: Message | None = None
    errors: list[UserError]


@strawberry.type
class DeliveryPayload:
    delivery: Delivery | None = None
    errors: list[UserError]


@strawberry.type
class TemplatePayload:
    template: Template | None = None
    errors: list[UserError]


@strawberry.type
class MessageMutations:
    @strawberry.mutation(permission_classes=[SENDERS])
    async def send(self, info: Info, input: SendInput) -> SendPayload | None:
        ctx = info.context
        row, errors = await attempt(ctx.services.sending.send(ctx.viewer, input.to_request()))
        if row is not None:
            ctx.wake_worker()
        return SendPayload(message=Message.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY], description="Queue a FAILED delivery again."
    )
    async def retry_delivery(self, info: Info, id: strawberry.ID) -> DeliveryPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.messages.retry(ctx.viewer, parse_id(id, "Delivery") or MISSING)
        )
        if row is not None:
            ctx.wake_worker()
        return DeliveryPayload(delivery=Delivery.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(permission_classes=[TEMPLATE_EDITORS])
    async def set_template(self, info: Info, input: SetTemplateInput) -> TemplatePayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.messages.set_template(
                ctx.viewer,
                input.category,
                input.channel,
                input.locale,
                input.title,
                input.body,
                input.html,
            )
        )
        return TemplatePayload(template=Template.from_model(row) if row else None, errors=errors)

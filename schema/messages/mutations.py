"""send, retryDelivery, retryDeliveries and setTemplate: thin calls into the sending
services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from tidings.core.delivery.sending import SendRequest
from tidings.core.enums import Role
from tidings.schema.context import Info
from tidings.schema.enums import DeliveryReasonEnum, TierEnum
from tidings.schema.errors import ERRORS, UserError, attempt
from tidings.schema.ids import MISSING, parse_id
from tidings.schema.messages.types import Delivery, Message, Template
from tidings.schema.permissions import ADMIN_ONLY, staff_roles

SENDERS = staff_roles(Role.ADMIN, Role.MARKETER, Role.AGENT)
TEMPLATE_EDITORS = staff_roles(Role.ADMIN, Role.MARKETER)


@strawberry.input(one_of=True, description="Exactly one of: a customer, a list, a tier.")
class AudienceInput:
    customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="One customer."
    )
    customer_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="A list of customers."
    )
    tier: TierEnum | None = strawberry.field(
        default=strawberry.UNSET,
        description="Every customer of a tier, expanded in batches after `send` returns "
        "(the message stays ACCEPTED until then). ADMIN and MARKETER only.",
    )


@strawberry.input(description="The content itself, instead of a stored template.")
class ContentInput:
    title: str = strawberry.field(
        description="The title (the email subject); a Jinja2 template, as `setTemplate`'s."
    )
    body: str = strawberry.field(description="The plain-text body; a Jinja2 template.")
    html: str | None = strawberry.field(
        default=None, description="An HTML body for email; a Jinja2 template, autoescaped."
    )


@strawberry.input(description="A message to send: to whom, about what, and what it says.")
class SendInput:
    idempotency_key: str = strawberry.field(
        description="The same key never sends twice; it returns the first message. Scoped to "
        "the caller and kept at least 24 hours; the same key with other input is "
        "IDEMPOTENCY_CONFLICT."
    )
    category: str = strawberry.field(description="The category's key.")
    to: AudienceInput = strawberry.field(description="The recipients.")
    channels: list[str] | None = strawberry.field(
        default=None,
        description="Default: the customer's preference for the category, else its defaults.",
    )
    content: ContentInput | None = strawberry.field(
        default=None,
        description="The content; null: the stored template for the category, each channel and "
        "the customer's locale.",
    )
    data: JSON | None = strawberry.field(
        default=None,
        description="Free-form JSON handed to providers and to the app (the in-app "
        "notification's `data`), and to templates.",
    )
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


@strawberry.input(
    description="Stored content for a category, channel and locale; replaces the one there. "
    "Jinja2, sandboxed: the variables a template may use are in docs/templates.md, and a "
    "template using anything else is refused here, naming it and its line."
)
class SetTemplateInput:
    category: str = strawberry.field(description="The category's key.")
    channel: str = strawberry.field(description="The channel it is for.")
    locale: str = strawberry.field(description='A BCP 47 locale, e.g. "en" or "zh-CN".')
    title: str = strawberry.field(description="The title template (the email subject).")
    body: str = strawberry.field(description="The plain-text body template.")
    html: str | None = strawberry.field(
        default=None, description="An HTML body template for email (autoescaped); null: none."
    )


@strawberry.type(description="The result of send.")
class SendPayload:
    message: Message | None = strawberry.field(
        default=None,
        description="The message recorded (or the first one sent with this idempotency key); "
        "null when `errors` says why not.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of retryDelivery.")
class DeliveryPayload:
    delivery: Delivery | None = strawberry.field(
        default=None, description="The delivery, QUEUED again; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.input(
    description="Which FAILED deliveries retryDeliveries queues again: those matching every "
    "field given; at least one is required."
)
class RetryDeliveriesFilter:
    message_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this message's deliveries; null: any message."
    )
    reason: DeliveryReasonEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Only deliveries that failed for this reason, e.g. RETRIES_EXHAUSTED; "
        "null: any reason.",
    )
    channel: str | None = strawberry.field(
        default=None, description="Only deliveries on this channel; null: any channel."
    )


@strawberry.type(description="The result of retryDeliveries.")
class RetryDeliveriesPayload:
    count: int = strawberry.field(
        description="How many FAILED deliveries were queued again (0 when `errors` says why)."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of setTemplate.")
class TemplatePayload:
    template: Template | None = strawberry.field(
        default=None, description="The template as stored; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type
class MessageMutations:
    @strawberry.mutation(
        permission_classes=[SENDERS],
        description="Send a message: ADMIN and MARKETER to any audience, an AGENT to customers "
        "it holds a SEND grant for. Every recipient and channel becomes a delivery, decided by "
        "the policy engine in the same transaction.",
    )
    async def send(
        self,
        info: Info,
        input: Annotated[SendInput, strawberry.argument(description="The message.")],
    ) -> SendPayload | None:
        ctx = info.context
        row, errors = await attempt(ctx.services.sending.send(ctx.viewer, input.to_request()))
        if row is not None:
            ctx.wake_worker()
        return SendPayload(message=Message.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Queue a FAILED delivery again with a fresh retry budget (ADMIN).",
    )
    async def retry_delivery(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The FAILED delivery.")],
    ) -> DeliveryPayload | None:
        ctx = info.context
        row, errors = await attempt(
            ctx.services.messages.retry(ctx.viewer, parse_id(id, "Delivery") or MISSING)
        )
        if row is not None:
            ctx.wake_worker()
        return DeliveryPayload(delivery=Delivery.from_model(row) if row else None, errors=errors)

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Queue again every FAILED delivery matching the filter, each with a fresh "
        "retry budget (ADMIN): after an outage, say, `{reason: RETRIES_EXHAUSTED, channel: "
        '"email"}`.',
    )
    async def retry_deliveries(
        self,
        info: Info,
        filter: Annotated[
            RetryDeliveriesFilter,
            strawberry.argument(description="Which failures; at least one field."),
        ],
    ) -> RetryDeliveriesPayload | None:
        ctx = info.context
        message_id = None
        if filter.message_id is not None:
            message_id = parse_id(filter.message_id, "Message") or MISSING
        count, errors = await attempt(
            ctx.services.messages.retry_many(ctx.viewer, message_id, filter.reason, filter.channel)
        )
        if count:
            ctx.wake_worker()
        return RetryDeliveriesPayload(count=count or 0, errors=errors)

    @strawberry.mutation(
        permission_classes=[TEMPLATE_EDITORS],
        description="Store a template (ADMIN and MARKETER); it is checked before it is stored.",
    )
    async def set_template(
        self,
        info: Info,
        input: Annotated[SetTemplateInput, strawberry.argument(description="The template.")],
    ) -> TemplatePayload | None:
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

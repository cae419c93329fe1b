"""Turning claimed deliveries into provider messages: content, addresses, one per target."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tidings.core.crypto import decrypt_json, decrypt_text
from tidings.core.delivery.addresses import Target, targets
from tidings.core.delivery.engagement_links import EngagementLinks
from tidings.core.delivery.message_links import BatchLinks
from tidings.core.delivery.render import (
    Content,
    RenderError,
    pick_template,
    template_variables,
)
from tidings.core.delivery.sandbox import TemplateSandbox
from tidings.core.enums import CategoryKind, DeliveryReason
from tidings.core.models import Customer, Device
from tidings.core.models.messages import Delivery, Message, Template
from tidings.plugins.interface import OutboundMessage

# How much of a render failure's text a delivery's `last_error` keeps.
MAX_PROBLEM = 500


@dataclass(frozen=True)
class Problem:
    """Why a delivery cannot be handed to a provider: NO_ADDRESS (the customer changed since
    the decision), or REJECTED with what an admin needs to fix (a template failing)."""

    reason: DeliveryReason
    detail: str | None = None


@dataclass
class Prepared:
    """A delivery ready to hand to providers: one outbound message per address (push: per
    device), or the problem that keeps it from going."""

    delivery: Delivery
    outbound: list[OutboundMessage]
    device_ids: list[uuid.UUID]
    problem: Problem | None = None


NO_ADDRESS = Problem(DeliveryReason.NO_ADDRESS)


async def prepare(
    deliveries: Sequence[Delivery],
    messages: dict[uuid.UUID, Message],
    sandbox: TemplateSandbox,
    *,
    links: BatchLinks | None = None,
    kinds: Mapping[str, CategoryKind] | None = None,
    tracking: EngagementLinks | None = None,
    tracked: frozenset[str] = frozenset(),
) -> list[Prepared]:
    """Render (in `sandbox`, off the event loop) and address a batch with three queries
    (customers, devices, templates). With `links`, each message's data carries the customer's
    preference link, and, where `kinds` says the category is MARKETING, its unsubscribe link
    (see message_links.py); without, data is the message's own. With `tracking`, email of the
    `tracked` categories gets tracked links and an open pixel (engagement_links.py)."""
    customer_ids = list({d.customer_id for d in deliveries})
    customers = {
        cid: (
            cid,
            decrypt_text(name, "customers", "name", cid),
            decrypt_text(email, "customers", "email", cid),
            decrypt_text(phone, "customers", "phone", cid),
            locale,
            decrypt_json(attributes, "customers", "attributes", cid),
            token_version,
        )
        for cid, name, email, phone, locale, attributes, token_version in await Customer.filter(
            id__in=customer_ids
        ).values_list("id", "name", "email", "phone", "locale", "attributes", "token_version")
    }
    devices: dict[uuid.UUID, list[Target]] = defaultdict(list)
    if any(d.channel == "push" for d in deliveries):
        for device_id, customer_id, token in await Device.filter(
            customer_id__in=customer_ids
        ).values_list("id", "customer_id", "token"):
            devices[customer_id].append(
                (device_id, decrypt_text(token, "devices", "token", device_id) or "")
            )
    templates: dict[tuple[str, str], dict[str, Content]] = defaultdict(dict)
    needs_templates = {
        messages[d.message_id].category for d in deliveries if messages[d.message_id].title is None
    }
    if needs_templates:
        for row in await Template.filter(category__in=list(needs_templates)):
            templates[(row.category, row.channel)][row.locale] = Content(
                row.title, row.body, row.html
            )

    contents = await _contents(deliveries, messages, customers, templates, sandbox)
    prepared: list[Prepared] = []
    for delivery, content in zip(deliveries, contents, strict=True):
        message = messages[delivery.message_id]
        customer = customers.get(delivery.customer_id)
        if customer is None or content is None:
            prepared.append(Prepared(delivery, [], [], NO_ADDRESS))
            continue
        if isinstance(content, Problem):
            prepared.append(Prepared(delivery, [], [], content))
            continue
        _, _, email, phone, locale, attributes, token_version = customer
        found = targets(
            delivery.channel,
            delivery.customer_id,
            email,
            phone,
            attributes or {},
            devices.get(delivery.customer_id, []),
        )
        if not found:
            prepared.append(Prepared(delivery, [], [], NO_ADDRESS))
            continue
        if tracking is not None and delivery.channel == "email" and message.category in tracked:
            content = tracking.content(content, delivery.id)
        if links is None:
            data = dict(message.data or {})
        else:
            data = links.data(
                message.data,
                customer_id=delivery.customer_id,
                token_version=token_version,
                category=message.category,
                channel=delivery.channel,
                marketing=(kinds or {}).get(message.category) is CategoryKind.MARKETING,
                message_kind=message.kind,
                delivery_id=delivery.id,
            )
        outbound = [
            OutboundMessage(
                delivery_id=str(delivery.id),
                message_id=str(message.id),
                channel=delivery.channel,
                category=message.category,
                address=address,
                title=content.title,
                body=content.body,
                html=content.html,
                data=dict(data),
                locale=locale,
            )
            for _, address in found
        ]
        prepared.append(
            Prepared(delivery, outbound, [device for device, _ in found if device is not None])
        )
    return prepared


async def _contents(
    deliveries: Sequence[Delivery],
    messages: dict[uuid.UUID, Message],
    customers: dict[uuid.UUID, tuple],
    templates: dict[tuple[str, str], dict[str, Content]],
    sandbox: TemplateSandbox,
) -> list[Content | Problem | None]:
    """Each delivery's content: the message's own, else its category's template for the
    channel and the customer's locale, rendered (the whole batch in one request to the
    sandbox); a failure says what failed, never a value from the data. None: no customer."""
    contents: list[Content | Problem | None] = []
    jobs: list[tuple[Content, dict]] = []
    rendered: list[int] = []  # which contents the jobs fill in
    for delivery in deliveries:
        message = messages[delivery.message_id]
        customer = customers.get(delivery.customer_id)
        if customer is None:
            contents.append(None)
        elif message.title is not None and message.body is not None:
            contents.append(Content(message.title, message.body, message.html))
        else:
            _, name, _, _, locale, attributes, _ = customer
            chosen = pick_template(templates.get((message.category, delivery.channel), {}), locale)
            if chosen is None:
                detail = f"no template for {message.category} on {delivery.channel}"
                contents.append(Problem(DeliveryReason.REJECTED, detail))
                continue
            rendered.append(len(contents))
            contents.append(None)
            jobs.append((chosen, template_variables(name, locale, attributes or {}, message.data)))
    for index, result in zip(rendered, await sandbox.render_many(jobs), strict=True):
        if isinstance(result, RenderError):
            result = Problem(DeliveryReason.REJECTED, f"template: {result}"[:MAX_PROBLEM])
        contents[index] = result
    return contents

"""Turning claimed deliveries into provider messages: content, addresses, one per target."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tidings.core.delivery.render import (
    Content,
    RenderError,
    pick_template,
    render,
    template_variables,
)
from tidings.core.models import Customer, Device
from tidings.core.models.messages import Delivery, Message, Template
from tidings.plugins.interface import OutboundMessage


@dataclass
class Prepared:
    """A delivery ready to hand to providers: one outbound message per address (push: per
    device), or why it cannot go."""

    delivery: Delivery
    outbound: list[OutboundMessage]
    device_ids: list[uuid.UUID]
    problem: str | None = None  # NO_ADDRESS or TEMPLATE_ERROR


async def prepare(
    deliveries: Sequence[Delivery], messages: dict[uuid.UUID, Message]
) -> list[Prepared]:
    """Render and address a batch with three queries (customers, devices, templates)."""
    customer_ids = list({d.customer_id for d in deliveries})
    customers = {
        row[0]: row
        for row in await Customer.filter(id__in=customer_ids).values_list(
            "id", "name", "email", "phone", "locale", "attributes"
        )
    }
    devices: dict[uuid.UUID, list[tuple[uuid.UUID, str]]] = defaultdict(list)
    if any(d.channel == "push" for d in deliveries):
        for device_id, customer_id, token in await Device.filter(
            customer_id__in=customer_ids
        ).values_list("id", "customer_id", "token"):
            devices[customer_id].append((device_id, token))
    templates: dict[tuple[str, str], dict[str, Content]] = defaultdict(dict)
    needs_templates = {
        messages[d.message_id].category for d in deliveries if messages[d.message_id].title is None
    }
    if needs_templates:
        for row in await Template.filter(category__in=list(needs_templates)):
            templates[(row.category, row.channel)][row.locale] = Content(
                row.title, row.body, row.html
            )

    prepared: list[Prepared] = []
    for delivery in deliveries:
        message = messages[delivery.message_id]
        customer = customers.get(delivery.customer_id)
        if customer is None:
            prepared.append(Prepared(delivery, [], [], "NO_ADDRESS"))
            continue
        _, name, email, phone, locale, attributes = customer
        content = _content(message, delivery.channel, templates, name, locale, attributes or {})
        if content is None:
            prepared.append(Prepared(delivery, [], [], "TEMPLATE_ERROR"))
            continue
        targets = _addresses(delivery, email, phone, attributes or {}, devices)
        if not targets:
            prepared.append(Prepared(delivery, [], [], "NO_ADDRESS"))
            continue
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
                data=dict(message.data or {}),
                locale=locale,
            )
            for _, address in targets
        ]
        prepared.append(
            Prepared(delivery, outbound, [device for device, _ in targets if device is not None])
        )
    return prepared


def _content(
    message: Message,
    channel: str,
    templates: dict[tuple[str, str], dict[str, Content]],
    name: str | None,
    locale: str,
    attributes: dict,
) -> Content | None:
    if message.title is not None and message.body is not None:
        return Content(message.title, message.body, message.html)
    chosen = pick_template(templates.get((message.category, channel), {}), locale)
    if chosen is None:
        return None
    try:
        return render(chosen, template_variables(name, locale, attributes, message.data))
    except RenderError:
        return None


def _addresses(
    delivery: Delivery,
    email: str | None,
    phone: str | None,
    attributes: dict,
    devices: dict[uuid.UUID, list[tuple[uuid.UUID, str]]],
) -> list[tuple[uuid.UUID | None, str]]:
    channel = delivery.channel
    if channel == "email":
        return [(None, email)] if email else []
    if channel == "sms":
        return [(None, phone)] if phone else []
    if channel == "push":
        return [(device_id, token) for device_id, token in devices.get(delivery.customer_id, [])]
    if channel == "in_app":
        return [(None, str(delivery.customer_id))]
    value = attributes.get(channel)
    return [(None, value)] if isinstance(value, str) and value else []

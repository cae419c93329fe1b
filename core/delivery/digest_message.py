"""A digest: a customer's held deliveries on one channel, sent as one combined message."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from tidings.core.delivery.message_links import UNSUBSCRIBE_URL, BatchLinks, without_unsubscribe
from tidings.core.delivery.outbound import Prepared
from tidings.core.delivery.render import Content, digest_content
from tidings.plugins.interface import OutboundMessage


def combine_digest(items: Sequence[Prepared], links: BatchLinks | None = None) -> Prepared:
    """One message standing for a customer's held deliveries on one channel; it carries the
    first delivery's id, so a retry of the same digest is recognised by the provider. Its
    unsubscribe link withdraws every category whose message carried one (marketing sends), so
    a digest of several categories gets one link that names them all."""
    lead = items[0]
    content = digest_content(
        (Content(item.outbound[0].title, item.outbound[0].body) for item in items),
        lead.outbound[0].locale,
    )
    categories = sorted(
        {item.outbound[0].category for item in items if UNSUBSCRIBE_URL in item.outbound[0].data}
    )
    customer_id, channel = lead.delivery.customer_id, lead.delivery.channel

    def data(message: OutboundMessage) -> dict:
        if links is None:  # no links were added: none to combine
            return without_unsubscribe(message.data)
        return links.digest_data(message.data, customer_id, categories, channel)

    outbound = [
        replace(
            message,
            title=content.title,
            body=content.body,
            html=None,
            category="digest",
            data=data(message),
        )
        for message in lead.outbound
    ]
    return Prepared(lead.delivery, outbound, lead.device_ids)

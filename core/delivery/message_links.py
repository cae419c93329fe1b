"""The links Tidings puts into every message it hands a provider (issue 11, item 3).

Every message gets `preferences_url`, the customer's own page. A MARKETING category's `send`
message also gets `unsubscribe_url` (one click withdraws that category on that channel) and,
on email when TIDINGS_UNSUBSCRIBE_MAILTO is set, `unsubscribe_mailto`. Transactional mail and
confirmation mail carry no unsubscribe link: the only way out of them is the page.

These keys are Tidings' own: a caller's data under the same names is replaced (or dropped),
so a transactional message cannot be given a `List-Unsubscribe` by its caller. A batch signs
each link once per customer (preferences) or customer × category × channel (unsubscribe),
however many devices or addresses it goes to.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from tidings.core.enums import MessageKind
from tidings.core.links import LinkKind, LinkSigner

PREFERENCES_URL = "preferences_url"
UNSUBSCRIBE_URL = "unsubscribe_url"
UNSUBSCRIBE_MAILTO = "unsubscribe_mailto"
LINK_KEYS = (PREFERENCES_URL, UNSUBSCRIBE_URL, UNSUBSCRIBE_MAILTO)


class BatchLinks:
    """Signs the links of one batch, each once, and merges them into a message's data."""

    def __init__(self, signer: LinkSigner, unsubscribe_mailto: str | None = None) -> None:
        self.signer = signer
        # The bare address (settings strip any "mailto:").
        self.unsubscribe_mailto = unsubscribe_mailto
        self._preferences: dict[uuid.UUID, str] = {}
        self._unsubscribes: dict[tuple[uuid.UUID, str, str], tuple[str, str]] = {}

    def data(
        self,
        caller_data: Mapping[str, Any] | None,
        *,
        customer_id: uuid.UUID,
        token_version: int,
        category: str,
        channel: str,
        marketing: bool,
        message_kind: str,
        delivery_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """A copy of `caller_data` with Tidings' links in place of any of the same name."""
        merged = {k: v for k, v in (caller_data or {}).items() if k not in LINK_KEYS}
        merged[PREFERENCES_URL] = self._preferences_url(customer_id, token_version)
        if marketing and message_kind == MessageKind.SEND.value:
            token, url = self._unsubscribe(customer_id, category, channel, delivery_id)
            merged[UNSUBSCRIBE_URL] = url
            if channel == "email" and self.unsubscribe_mailto:
                merged[UNSUBSCRIBE_MAILTO] = self._mailto(token)
        return merged

    def digest_data(
        self,
        data: Mapping[str, Any],
        customer_id: uuid.UUID,
        categories: Sequence[str],
        channel: str,
    ) -> dict[str, Any]:
        """A digest's data: its lead's, with one unsubscribe link that withdraws every marketing
        category the digest stands for (`categories`; none: no unsubscribe link)."""
        merged = without_unsubscribe(data)
        if categories:
            token = self.signer.unsubscribe_token(customer_id, categories, channel)
            merged[UNSUBSCRIBE_URL] = self.signer.url(LinkKind.UNSUBSCRIBE, token)
            if channel == "email" and self.unsubscribe_mailto:
                merged[UNSUBSCRIBE_MAILTO] = self._mailto(token)
        return merged

    def _mailto(self, token: str) -> str:
        return f"mailto:{self.unsubscribe_mailto}?subject=unsubscribe%20{quote(token, safe='')}"

    def _preferences_url(self, customer_id: uuid.UUID, version: int) -> str:
        url = self._preferences.get(customer_id)
        if url is None:
            url = self._preferences[customer_id] = self.signer.preferences_url(customer_id, version)
        return url

    def _unsubscribe(
        self, customer_id: uuid.UUID, category: str, channel: str, delivery_id: uuid.UUID | None
    ) -> tuple[str, str]:
        """The unsubscribe token and its URL."""
        key = (customer_id, category, channel, delivery_id)
        found = self._unsubscribes.get(key)
        if found is None:
            token = self.signer.unsubscribe_token(*key)
            found = self._unsubscribes[key] = (token, self.signer.url(LinkKind.UNSUBSCRIBE, token))
        return found


def without_unsubscribe(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with no unsubscribe link: for a message that stands for several categories."""
    return {k: v for k, v in data.items() if k not in (UNSUBSCRIBE_URL, UNSUBSCRIBE_MAILTO)}

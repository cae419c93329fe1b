"""Unsubscribing by mail: what a mail client sends to TIDINGS_UNSUBSCRIBE_MAILTO when its reader
uses the `mailto:` entry of `List-Unsubscribe` (subject `unsubscribe <token>`, the token of
the one-click link), received by `tidings inbound-smtp`.

The token is the authority, exactly as for `POST /unsubscribe/<token>`: it is verified by the
same signer and withdraws through the same path (`PreferenceCenter.one_click`, ledger source
`one_click_unsubscribe`, recorded by the customer), idempotently. Who sent the mail does not
matter: a forwarded message's reader can already press the link. The evidence says it came
by mail; neither the sender's address nor the subject is kept or logged.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime

from tidings.core.links import InvalidLinkError, LinkKind, LinkSigner
from tidings.core.services.preference_center import PreferenceCenter

SUBJECT_WORD = "unsubscribe"
EVIDENCE_VIA = "mailto"


class MailUnsubscribe:
    """The unsubscribe mailbox: which address it is, and what a message to it does."""

    def __init__(self, address: str, links: LinkSigner, center: PreferenceCenter) -> None:
        self.address = address
        self.links = links
        self.center = center

    def accepts(self, address: str) -> bool:
        return address.strip().strip("<>").lower() == self.address.lower()

    async def handle(self, raw: bytes) -> bool:
        """Withdraw what the subject's token names; False when it names nothing valid."""
        token = subject_token(raw)
        if token is None:
            return False
        try:
            claims = self.links.verify(token, LinkKind.UNSUBSCRIBE)
        except InvalidLinkError:
            return False
        target = await self.center.link_target(claims)
        if target is None or claims.channel is None:
            return False
        customer, _ = target
        evidence = {"at": datetime.now(UTC).isoformat(), "via": EVIDENCE_VIA}
        await self.center.one_click(
            customer, claims.categories, claims.channel, evidence, claims.delivery_id
        )
        return True


def subject_token(raw: bytes) -> str | None:
    """The token of a subject `unsubscribe <token>` (any case, a `Re:` or `Fwd:` before it
    tolerated); None for any other subject or message."""
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        subject = str(message.get("Subject") or "")
    except (ValueError, TypeError, LookupError, UnicodeError, AttributeError, IndexError):
        return None
    words = subject.split()
    while words and words[0].lower() in ("re:", "fw:", "fwd:"):
        words = words[1:]
    if len(words) != 2 or words[0].lower() != SUBJECT_WORD:
        return None
    return words[1]

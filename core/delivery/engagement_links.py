"""Rewriting an email's links for engagement tracking (issue 12, item 9).

Applied to a delivery's rendered content before a provider is handed it, for the email
channel only, when the category tracks engagement (`Category.track_engagement`) and
TIDINGS_TRACKING is on (the pipeline passes no signer otherwise):

- every `<a href>` in the HTML part and every bare http(s) URL in the text part becomes
  `<TIDINGS_PUBLIC_URL>/t/c/<token>`, the token signing the delivery and the original URL
  (core/tracking.py);
- the HTML part gains a 1x1 open pixel, `<TIDINGS_PUBLIC_URL>/t/o/<token>.gif`, just before
  its last `</body>` (else at its end).

Left as they are: anything that is not an absolute http(s) URL (mailto:, tel:, anchors,
relative paths), URLs longer than MAX_URL, and Tidings' own links under TIDINGS_PUBLIC_URL
(preferences, unsubscribe, confirmation, tracking), so an unsubscribe link never passes
through a redirect; the footer and `List-Unsubscribe` the SMTP provider adds come from the
message's data, which is never rewritten.
"""

from __future__ import annotations

import html
import re
import uuid

from tidings.core.delivery.render import Content
from tidings.core.links import LinkKind
from tidings.core.tracking import CLICK_PATH, MAX_URL, OPEN_PATH, TrackingSigner, is_web_url

# An opening <a ...> tag, and the href attribute inside one (quoted either way, or bare).
_ANCHOR = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"""((?<![\w-])href\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""", re.IGNORECASE)
# A bare URL in text; trailing punctuation is the sentence's, not the URL's.
_TEXT_URL = re.compile(r"""https?://[^\s<>"'`]+""", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


class EngagementLinks:
    """Rewrites one delivery's content at a time; knows which of our own links to leave."""

    def __init__(self, signer: TrackingSigner) -> None:
        self.signer = signer
        base = signer.public_url
        own = [f"{base}/{kind.value}/" for kind in LinkKind]
        self._own = (*own, f"{base}{OPEN_PATH}", f"{base}{CLICK_PATH}")

    def __repr__(self) -> str:
        return f"<EngagementLinks {self.signer.public_url}>"

    def content(self, content: Content, delivery_id: uuid.UUID) -> Content:
        """`content` with its links tracked and, when it has HTML, the open pixel."""
        cache: dict[str, str] = {}
        return Content(
            title=content.title,
            body=self.text(content.body, delivery_id, cache),
            html=self.html(content.html, delivery_id, cache) if content.html else content.html,
        )

    def text(self, body: str, delivery_id: uuid.UUID, cache: dict[str, str] | None = None) -> str:
        cache = {} if cache is None else cache

        def replace(match: re.Match[str]) -> str:
            url = match.group(0)
            stripped = url.rstrip(_TRAILING)
            tail = url[len(stripped) :]
            return self._tracked(stripped, delivery_id, cache) + tail

        return _TEXT_URL.sub(replace, body)

    def html(self, body: str, delivery_id: uuid.UUID, cache: dict[str, str] | None = None) -> str:
        cache = {} if cache is None else cache

        def href(match: re.Match[str]) -> str:
            raw = next(g for g in match.groups()[1:] if g is not None)
            url = html.unescape(raw).strip()
            tracked = self._tracked(url, delivery_id, cache)
            if tracked is url:
                return match.group(0)
            return f'{match.group(1)}"{html.escape(tracked, quote=True)}"'

        def anchor(match: re.Match[str]) -> str:
            return _HREF.sub(href, match.group(0), count=1)

        rewritten = _ANCHOR.sub(anchor, body)
        return _with_pixel(rewritten, self.signer.open_url(delivery_id))

    def _tracked(self, url: str, delivery_id: uuid.UUID, cache: dict[str, str]) -> str:
        """The tracked URL for `url`, or `url` itself (the same object) when it stays."""
        if len(url) > MAX_URL or url.startswith(self._own) or not is_web_url(url):
            return url
        found = cache.get(url)
        if found is None:
            found = cache[url] = self.signer.click_url(delivery_id, url)
        return found


def _with_pixel(body: str, pixel_url: str) -> str:
    image = (
        f'<img src="{html.escape(pixel_url, quote=True)}" width="1" height="1" alt="" '
        'style="display:block;width:1px;height:1px;border:0">'
    )
    ends = list(_BODY_END.finditer(body))
    if not ends:
        return f"{body}{image}"
    at = ends[-1].start()
    return f"{body[:at]}{image}{body[at:]}"

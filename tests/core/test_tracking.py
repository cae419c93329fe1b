"""Tracking tokens and link rewriting: a token reads back as its own kind only, under its own
key, and any change to it is refused; rewriting tracks web links only and never Tidings' own
(unsubscribe, preferences, confirmation)."""

from __future__ import annotations

import base64
import re
import uuid

import pytest

from tidings.core.delivery.engagement_links import EngagementLinks
from tidings.core.delivery.render import Content
from tidings.core.links import LinkSigner
from tidings.core.tracking import InvalidTrackingToken, TrackingSigner

KEY = "tracking-test-secret-" + "k" * 32
PUBLIC = "https://notify.shop.example"
DELIVERY = uuid.uuid4()
PAGE = "https://shop.example/sale?item=42&ref=mail"


def signer(key: str = KEY) -> TrackingSigner:
    return TrackingSigner(key, PUBLIC + "/")


def test_tokens_read_back_and_stay_compact():
    tracking = signer()
    assert tracking.read_open(tracking.open_token(DELIVERY)) == DELIVERY
    assert tracking.read_click(tracking.click_token(DELIVERY, PAGE)) == (DELIVERY, PAGE)
    assert len(tracking.open_token(DELIVERY)) == 38  # 16 id bytes + 12 tag bytes
    assert len(tracking.click_token(DELIVERY, PAGE)) < 38 + len(PAGE) * 4 // 3 + 2
    assert tracking.open_url(DELIVERY).startswith(f"{PUBLIC}/t/o/")
    assert tracking.open_url(DELIVERY).endswith(".gif")
    assert tracking.click_url(DELIVERY, PAGE).startswith(f"{PUBLIC}/t/c/")
    assert KEY not in repr(tracking)


def _flip(token: str, at: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[at] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_every_changed_byte_is_refused():
    tracking = signer()
    click = tracking.click_token(DELIVERY, PAGE)
    size = len(base64.urlsafe_b64decode(click + "=" * (-len(click) % 4)))
    for at in range(size):  # the delivery, the tag and every byte of the URL
        with pytest.raises(InvalidTrackingToken):
            tracking.read_click(_flip(click, at))
    opened = tracking.open_token(DELIVERY)
    for at in range(28):
        with pytest.raises(InvalidTrackingToken):
            tracking.read_open(_flip(opened, at))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not a token",
        "%2e%2e",
        "A" * 10,
        "A" * 100_000,
        "abc+/=",
    ],
)
def test_malformed_tokens_are_refused(token):
    tracking = signer()
    with pytest.raises(InvalidTrackingToken):
        tracking.read_click(token)
    with pytest.raises(InvalidTrackingToken):
        tracking.read_open(token)


def test_foreign_kinds_and_keys_are_refused():
    ours, theirs = signer(), signer("another-installation-" + "x" * 32)
    with pytest.raises(InvalidTrackingToken):
        ours.read_click(theirs.click_token(DELIVERY, PAGE))
    with pytest.raises(InvalidTrackingToken):
        ours.read_open(theirs.open_token(DELIVERY))
    with pytest.raises(InvalidTrackingToken):  # an open token is no click token
        ours.read_click(ours.open_token(DELIVERY))
    # A click token is no open token either.
    with pytest.raises(InvalidTrackingToken):
        ours.read_open(ours.click_token(DELIVERY, PAGE))
    # Signed, but not a web URL: it is never redirected to.
    with pytest.raises(InvalidTrackingToken):
        ours.read_click(ours.click_token(DELIVERY, "javascript:alert(1)"))


def rewriter() -> tuple[EngagementLinks, TrackingSigner]:
    tracking = signer()
    return EngagementLinks(tracking), tracking


def clicks(tracking: TrackingSigner, text: str) -> list[str]:
    """The original URLs behind every tracked link in `text`."""
    tokens = re.findall(r"/t/c/([A-Za-z0-9_-]+)", text)
    return [tracking.read_click(token)[1] for token in tokens]


def test_html_links_are_tracked_and_the_pixel_goes_before_body_end():
    links, tracking = rewriter()
    unsubscribe = LinkSigner(KEY, PUBLIC, 60).unsubscribe_url(DELIVERY, "promos", "email")
    html = (
        "<html><body>"
        '<a href="https://shop.example/a?x=1&amp;y=2">A</a>'
        "<A HREF='http://shop.example/b'>B</A>"
        "<a class=x href=https://shop.example/c>C</a>"
        '<a href="mailto:help@shop.example">mail</a>'
        '<a href="tel:+4912345">call</a>'
        '<a href="#top">top</a>'
        '<a href="/relative">rel</a>'
        f'<a href="{unsubscribe}">unsubscribe</a>'
        f'<a href="{PUBLIC}/preferences/abc">prefs</a>'
        '<a name="anchor">no href</a>'
        '<a data-href="https://shop.example/d" href="https://shop.example/e">E</a>'
        "</body></html>"
    )
    out = links.html(html, DELIVERY)
    assert clicks(tracking, out) == [
        "https://shop.example/a?x=1&y=2",  # unescaped before signing
        "http://shop.example/b",
        "https://shop.example/c",
        "https://shop.example/e",  # the href, not a data-href before it
    ]
    kept_as_they_are = ("mailto:help@shop.example", "tel:+4912345", '"#top"', '"/relative"')
    for kept in (*kept_as_they_are, 'data-href="https://shop.example/d"'):
        assert kept in out
    assert f'href="{unsubscribe}"' in out
    assert f'href="{PUBLIC}/preferences/abc"' in out
    pixel = out.index("/t/o/")
    assert pixel < out.index("</body>")
    assert 'width="1" height="1"' in out


def test_text_links_are_tracked_without_their_punctuation():
    links, tracking = rewriter()
    text = (
        "See https://shop.example/sale. Or (https://shop.example/faq), "
        f"and {PUBLIC}/unsubscribe/tok to leave; write to mailto:a@b.example."
    )
    out = links.text(text, DELIVERY)
    assert clicks(tracking, out) == ["https://shop.example/sale", "https://shop.example/faq"]
    assert out.count("/t/c/") == 2
    assert f"{PUBLIC}/unsubscribe/tok to leave" in out
    assert ". Or (" in out and "), " in out


def test_content_without_html_gets_no_pixel_and_the_title_stays():
    links, _ = rewriter()
    out = links.content(Content("Sale at https://shop.example", "https://shop.example"), DELIVERY)
    assert out.title == "Sale at https://shop.example"
    assert out.html is None
    assert "/t/c/" in out.body and "/t/o/" not in out.body


def test_html_without_body_tag_gets_the_pixel_at_the_end():
    links, _ = rewriter()
    out = links.html("<p>Hi</p>", DELIVERY)
    assert out.startswith("<p>Hi</p><img ") and "/t/o/" in out

"""The email provider's reader of what comes back (providers/smtp_bounces.py), table-driven:
RFC 3464 bounces and RFC 5965 complaints, matched by the VERP tag or the original
Message-ID; anything else is a ValueError that carries nothing of the message."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.providers.reports import ORIGINAL_TO, arf, dsn
from tidings.plugins import FeedbackKind
from tidings.providers.smtp_bounces import BounceAddress, parse_bounce_address, parse_report

BOUNCE = BounceAddress("bounces", "example.com")
ID = "2f1c4b1e-8d7a-4a55-9d0e-3f7a1c2b9e10"
TAGGED = f"bounces+{ID}@example.com"


def block(action: str, status: str, **more: str) -> dict[str, str]:
    return {"Final-Recipient": f"rfc822; {ORIGINAL_TO}", "Action": action, "Status": status, **more}


# --- the bounce address ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("bounces@example.com", BounceAddress("bounces", "example.com")),
        (" bounces@mail.shop.example ", BounceAddress("bounces", "mail.shop.example")),
        ("bounces+shop@example.com", BounceAddress("bounces+shop", "example.com")),
    ],
)
def test_the_bounce_address_setting(value, expected):
    assert parse_bounce_address(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "bounces",
        "bounces@",
        "@example.com",
        "a@b",
        "<b@example.com>",
        "Shop <b@example.com>",
        "b@exa mple.com",
        "b@example.com, c@example.com",
        "mailto:b@example.com",
    ],
)
def test_a_bounce_address_that_is_not_a_plain_address_is_refused(value):
    with pytest.raises(ValueError, match="TIDINGS_BOUNCE_ADDRESS"):
        parse_bounce_address(value)


@pytest.mark.parametrize(
    ("base", "delivery_id", "sender"),
    [
        (BOUNCE, ID, TAGGED),
        (BounceAddress("bounces+shop", "example.com"), ID, f"bounces+shop+{ID}@example.com"),
        (BOUNCE, "not safe<>@", "bounces@example.com"),  # never a broken address
        (BOUNCE, "x" * 129, "bounces@example.com"),
    ],
)
def test_verp_tags_the_envelope_sender_and_reads_the_tag_back(base, delivery_id, sender):
    assert base.verp(delivery_id) == sender
    assert base.accepts(sender)
    assert base.tag(sender) == (delivery_id if sender != str(base) else None)


@pytest.mark.parametrize(
    ("address", "tag"),
    [
        (TAGGED, ID),
        (f"<{TAGGED}>", ID),
        (f"BOUNCES+{ID}@EXAMPLE.COM", ID),
        ("bounces@example.com", None),
        (f"bounces+{ID}@other.example", None),
        (f"others+{ID}@example.com", None),
        (f"bouncesx+{ID}@example.com", None),
        ("bounces+@example.com", None),
        ("bounces+a b@example.com", None),
        ("not an address", None),
    ],
)
def test_the_tag_of_an_address(address, tag):
    assert BOUNCE.tag(address) == tag


def test_accepts_only_the_bounce_mailbox():
    assert BOUNCE.accepts("Bounces@Example.com")
    assert not BOUNCE.accepts("postmaster@example.com")
    assert not BOUNCE.accepts("bounces@example.net")


# --- bounces --------------------------------------------------------------------------------

ARRIVAL = datetime(2026, 11, 30, 9, 59, tzinfo=UTC)
ATTEMPT = "Mon, 30 Nov 2026 09:59:30 +0000"


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        ([block("failed", "5.1.1")], [(FeedbackKind.BOUNCED, True, "5.1.1 failed")]),
        ([block("failed", "5.7.1 (policy)")], [(FeedbackKind.BOUNCED, True, "5.7.1 failed")]),
        ([block("delayed", "4.4.1")], []),  # still trying: the end is reported later
        ([block("failed", "4.4.7")], [(FeedbackKind.BOUNCED, False, "4.4.7 failed")]),
        ([block("Failed", "5.2.2")], [(FeedbackKind.BOUNCED, True, "5.2.2 failed")]),
        ([block("delivered", "2.0.0")], [(FeedbackKind.DELIVERED, False, "2.0.0 delivered")]),
        ([block("relayed", "2.0.0")], []),
        ([block("expanded", "2.0.0")], []),
        (
            [block("failed", "5.2.2"), block("delayed", "4.2.2"), block("failed", "4.2.2")],
            [
                (FeedbackKind.BOUNCED, True, "5.2.2 failed"),
                (FeedbackKind.BOUNCED, False, "4.2.2 failed"),
            ],
        ),
    ],
)
def test_each_recipient_block_is_one_feedback(blocks, expected):
    items = parse_report(dsn(to=TAGGED, blocks=blocks), bounce=BOUNCE)
    assert [(i.kind, i.permanent, i.detail) for i in items] == expected
    for item in items:
        assert (item.delivery_id, item.provider_id, item.at) == (ID, "<d1@example.com>", ARRIVAL)


def test_a_hard_bounce_keeps_the_diagnostic_with_every_address_masked():
    [item] = parse_report(dsn(to=TAGGED), bounce=BOUNCE)
    assert item.detail == "5.1.1 failed: 550 5.1.1 <***>: Recipient address rejected"
    assert ORIGINAL_TO not in repr(item)


def test_the_last_attempt_is_when_it_happened():
    blocks = [block("failed", "5.1.1", **{"Last-Attempt-Date": ATTEMPT})]
    [item] = parse_report(dsn(to=TAGGED, blocks=blocks), bounce=BOUNCE)
    assert item.at == datetime(2026, 11, 30, 9, 59, 30, tzinfo=UTC)


def test_without_any_date_in_the_report_the_message_date_is_used():
    raw = dsn(to=TAGGED, per_message={"Reporting-MTA": "dns; mail.example.com"})
    [item] = parse_report(raw, bounce=BOUNCE)
    assert item.at == datetime(2026, 11, 30, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "recipients", "bounce", "delivery_id", "provider_id"),
    [
        # the tag in To, in the envelope, in Delivered-To
        (dsn(to=TAGGED), (), BOUNCE, ID, "<d1@example.com>"),
        (dsn(to="someone@example.com"), (TAGGED,), BOUNCE, ID, "<d1@example.com>"),
        (
            dsn(to="bounces@example.com", extra_headers={"Delivered-To": TAGGED}),
            (),
            BOUNCE,
            ID,
            "<d1@example.com>",
        ),
        # no tag: the original's Message-ID alone
        (dsn(to="bounces@example.com"), (), BOUNCE, None, "<d1@example.com>"),
        (dsn(to=TAGGED), (), None, None, "<d1@example.com>"),
        (dsn(to=f"bounces+{ID}@other.example"), (), BOUNCE, None, "<d1@example.com>"),
        # the original as a whole message, or not at all
        (dsn(to=TAGGED, original="message"), (), BOUNCE, ID, "<d1@example.com>"),
        (dsn(to=TAGGED, original="none"), (), BOUNCE, ID, None),
        (dsn(to="bounces@example.com", message_id=None), (), BOUNCE, None, None),
        (dsn(to="bounces@example.com", message_id="no brackets"), (), BOUNCE, None, None),
    ],
)
def test_matching(raw, recipients, bounce, delivery_id, provider_id):
    [item] = parse_report(raw, bounce=bounce, recipients=recipients)
    assert (item.delivery_id, item.provider_id) == (delivery_id, provider_id)


# --- complaints -----------------------------------------------------------------------------


@pytest.mark.parametrize("feedback_type", ["abuse", "fraud", "virus", "other", "Abuse"])
def test_a_feedback_report_is_a_complaint(feedback_type):
    [item] = parse_report(arf(feedback_type=feedback_type, mail_from=TAGGED), bounce=BOUNCE)
    assert item.kind is FeedbackKind.COMPLAINED
    assert (item.delivery_id, item.provider_id) == (ID, "<d1@example.com>")
    assert item.at == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert item.detail == f"feedback-type {feedback_type.lower()}"


@pytest.mark.parametrize("feedback_type", ["not-spam", "auth-failure", "something-new"])
def test_reports_that_are_not_complaints_say_nothing(feedback_type):
    assert parse_report(arf(feedback_type=feedback_type, mail_from=TAGGED), bounce=BOUNCE) == []


@pytest.mark.parametrize(
    ("raw", "delivery_id", "provider_id", "at"),
    [
        (arf(mail_from="bounces@example.com"), None, "<d1@example.com>", 8),
        (arf(mail_from=None, original="headers"), None, "<d1@example.com>", 8),
        (arf(mail_from=TAGGED, message_id=None), ID, None, 8),
        (arf(mail_from=TAGGED, original="none"), ID, None, 8),
        (arf(mail_from=None, to=TAGGED), ID, "<d1@example.com>", 8),
        (arf(mail_from=TAGGED, arrival=None), ID, "<d1@example.com>", 10),
    ],
)
def test_complaint_matching(raw, delivery_id, provider_id, at):
    [item] = parse_report(raw, bounce=BOUNCE)
    assert (item.delivery_id, item.provider_id) == (delivery_id, provider_id)
    assert item.at == datetime(2026, 11, 30, at, tzinfo=UTC)


# --- malformed ------------------------------------------------------------------------------

PLAIN = (
    f"From: {ORIGINAL_TO}\r\nTo: {TAGGED}\r\nSubject: Re: Spring sale\r\n\r\nStop it.\r\n"
).encode()


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b" \r\n ",
        PLAIN,
        b"\xff\xfe\x00\x01garbage",
        dsn().replace(b"multipart/report", b"multipart/mixed"),
        dsn().replace(b"report-type=delivery-status", b"report-type=disposition-notification"),
        dsn().replace(b"report-type=delivery-status; ", b""),
        dsn().replace(b"Content-Type: message/delivery-status", b"Content-Type: text/plain"),
        dsn(blocks=[]),
        dsn(blocks=[{"Final-Recipient": f"rfc822; {ORIGINAL_TO}", "Action": "failed"}]),
        dsn(blocks=[{"Final-Recipient": f"rfc822; {ORIGINAL_TO}", "Status": "5.1.1"}]),
        dsn(blocks=[block("failed", "9.1.1")]),
        dsn(blocks=[block("failed", "5.x")]),
        dsn(blocks=[block("exploded", "5.1.1")]),
        arf().replace(b"Feedback-Type: abuse\r\n", b""),
        arf().replace(b"Content-Type: message/feedback-report", b"Content-Type: text/plain"),
    ],
)
def test_anything_else_is_a_value_error_naming_nothing_of_the_message(raw):
    with pytest.raises(ValueError) as caught:
        parse_report(raw, bounce=BOUNCE)
    message = str(caught.value)
    assert ORIGINAL_TO not in message and "example" not in message and ID not in message


@pytest.mark.parametrize("raw", [dsn(to=TAGGED), arf(mail_from=TAGGED)], ids=["dsn", "arf"])
def test_a_cut_or_mangled_report_never_crashes(raw):
    """Every prefix of a real report, and each with a byte flipped: a list or a ValueError."""
    for end in range(0, len(raw), 7):
        for candidate in (raw[:end], raw[:end] + b"\xff" + raw[end + 1 :]):
            try:
                items = parse_report(candidate, bounce=BOUNCE)
            except ValueError:
                continue
            assert isinstance(items, list)

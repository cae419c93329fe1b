"""Table-driven checks of the input rules every service shares (`tidings.core.validation`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tidings.core import validation
from tidings.core.errors import UserInputError


def rejects(check, value, code: str, field: str) -> None:
    with pytest.raises(UserInputError) as caught:
        check(value)
    assert caught.value.code == code
    assert caught.value.field == field
    assert caught.value.message  # something a person can read


# Emails -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("jane@example.com", "jane@example.com"),
        ("  Jane.Doe@EXAMPLE.COM ", "Jane.Doe@example.com"),
        ("first.last+tag@sub.example.co.uk", "first.last+tag@sub.example.co.uk"),
        ("用户@例子.广告", "用户@例子.广告"),
    ],
)
def test_valid_emails_are_normalised(raw, normalised):
    assert validation.email(raw) == normalised


@pytest.mark.parametrize(
    "raw",
    ["", "no-at-sign", "a@b", "user@localhost", "a@@example.com", "a@example.com.", "a b@x.com"],
)
def test_invalid_emails(raw):
    rejects(validation.email, raw, "INVALID_EMAIL", "email")


def test_email_error_names_the_given_field():
    rejects(lambda v: validation.email(v, "contact"), "nope", "INVALID_EMAIL", "contact")


# Phones -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+8613800138000", "+8613800138000"),
        ("+14155550123", "+14155550123"),
        ("+447700900123", "+447700900123"),
        ("  +14155550123 ", "+14155550123"),
    ],
)
def test_e164_phones_are_accepted(raw, expected):
    assert validation.phone(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "13800138000",  # no country code
        "+0123",  # country codes never start with 0
        "+1 415 555 0123",  # spaces: not E.164
        "+1-415-555-0123",
        "(415) 555-0123",
        "+1415555abcd",  # letters
        "phone",
        "+",
        "",
        "+1234567890123456",  # 16 digits: longer than E.164 allows
        "+1234567",  # E.164-shaped, but no possible number
    ],
)
def test_phones_not_in_e164_are_rejected(raw):
    rejects(validation.phone, raw, "INVALID_PHONE", "phone")


# Locales ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("zh-CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("en", "en"),
        ("EN", "en"),
        ("en-us", "en-US"),
        ("zh-Hans-CN", "zh-Hans-CN"),
        ("zh_hans_cn", "zh-Hans-CN"),
        ("es-419", "es-419"),
        ("de-AT", "de-AT"),
    ],
)
def test_locales_are_returned_in_canonical_case(raw, canonical):
    assert validation.locale(raw) == canonical


@pytest.mark.parametrize("raw", ["xx-YY", "klingon", "", "e", "en-", "zh CN", "../en", "tlh"])
def test_unknown_or_malformed_locales(raw):
    rejects(validation.locale, raw, "INVALID_LOCALE", "locale")


# Timezones ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "Asia/Shanghai",
        "UTC",
        "Europe/London",
        "America/Argentina/Buenos_Aires",
        "Asia/Calcutta",  # a link to Asia/Kolkata
        "US/Pacific",
        "Etc/GMT+5",
    ],
)
def test_iana_timezones(raw):
    assert validation.timezone(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "Mars/Olympus",
        "../etc/passwd",
        "/etc/passwd",
        "asia/shanghai",
        "",
        "GMT+8",
        "Asia/",
        # Files in the zoneinfo folder that ZoneInfo loads, but no IANA name.
        "localtime",
        "Factory",
        "posixrules",
        "right/UTC",
        "posix/Asia/Shanghai",
        "right/Europe/London",
    ],
)
def test_unknown_timezones(raw):
    rejects(validation.timezone, raw, "INVALID_TIMEZONE", "timezone")


# Category keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw", ["promotions", "order.updates", "security-alerts", "news_2024", "a", "9", "x" * 64]
)
def test_valid_keys(raw):
    assert validation.key(raw) == raw


@pytest.mark.parametrize(
    "raw", ["", "Promotions", "_news", ".news", "-news", "a b", "x" * 65, "café", "news/2024"]
)
def test_invalid_keys(raw):
    rejects(validation.key, raw, "INVALID_KEY", "key")


@pytest.mark.parametrize("raw", ["news\u200b", "\u2066news", "ne\u00adws", "news\ufe0f"])
def test_keys_with_invisible_characters_say_so(raw):
    rejects(validation.key, raw, "INVALID_CHARACTERS", "key")


# Identifiers and names ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("cust-1001", "cust-1001"),
        ("  crm 1001  ", "crm 1001"),
        ("cafe\u0301", "caf\u00e9"),  # NFC
        ("王小明-7", "王小明-7"),
        ("a.b_c:d/e@f", "a.b_c:d/e@f"),
    ],
)
def test_identifiers_are_nfc_and_trimmed(raw, stored):
    assert validation.identifier(raw, "externalId") == stored


@pytest.mark.parametrize(
    "char",
    [
        "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u180e", "\u034f",
        "\u202a", "\u202e", "\u2066", "\u2069", "\u200e", "\u061c",
        "\u00a0", "\u2007", "\u3000", "\u3164", "\uffa0", "\ufe0f", "\U000e0001",
        "\x00", "\x1f", "\x7f", "\x85", "\n", "\u2028", "\u2029", "\ue000", "\U0010fffd",
        "\U000e0fff",
    ],
)  # fmt: skip
def test_identifiers_refuse_invisible_and_control_characters(char):
    rejects(
        lambda v: validation.identifier(v, "externalId"),
        f"victim{char}1",
        "INVALID_CHARACTERS",
        "externalId",
    )


def test_identifier_limits_still_apply():
    rejects(lambda v: validation.identifier(v, "externalId", 5), "abcdef", "TOO_LONG", "externalId")
    rejects(
        lambda v: validation.identifier(v, "externalId", required=True),
        " ",
        "REQUIRED",
        "externalId",
    )


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Jane Doe", "Jane Doe"),
        ("Rene\u0301e", "Ren\u00e9e"),
        ("山田\u3000太郎", "山田\u3000太郎"),
        ("Fran\u00a0Ois", "Fran\u00a0Ois"),
        ("می\u200cخواهم", "می\u200cخواهم"),  # ZWNJ: Persian spelling
        ("👩\u200d💻 team", "👩\u200d💻 team"),  # ZWJ: one emoji
        ("❤\ufe0f", "❤\ufe0f"),  # a variation selector
    ],
)
def test_names_keep_any_script_spaces_and_joiners(raw, stored):
    assert validation.name(raw, "name") == stored


@pytest.mark.parametrize(
    "char",
    ["\u202e", "\u2066", "\u200f", "\u200b", "\u2060", "\ufeff", "\u3164", "\x07", "\n", "\u2028"],
)
def test_names_refuse_control_bidi_and_blank_characters(char):
    rejects(lambda v: validation.name(v, "name"), f"Jane{char}Doe", "INVALID_CHARACTERS", "name")


# Sources ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("signup_form", "signup_form"),
        ("preference_center", "preference_center"),
        ("api", "api"),
        ("import", "import"),
        (" Signup_Form ", "signup_form"),
        ("partner:acme", "partner:acme"),
        ("x" * 64, "x" * 64),
    ],
)
def test_valid_sources_are_lower_cased(raw, expected):
    assert validation.source(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "bad source", "-api", "x" * 65, "api!", "<script>"])
def test_invalid_sources(raw):
    rejects(validation.source, raw, "INVALID_SOURCE", "source")


# Clock times --------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["00:00", "08:00", "12:30", "22:00", "23:59"])
def test_valid_clock_times(raw):
    assert validation.clock(raw, "quietHours.start") == raw


@pytest.mark.parametrize(
    "raw", ["24:00", "8:00", "12:60", "noon", "", "12:00:00", "-1:00", "12.30", " 12:30"]
)
def test_invalid_clock_times(raw):
    rejects(lambda v: validation.clock(v, "quietHours.end"), raw, "INVALID_TIME", "quietHours.end")


# Free text ----------------------------------------------------------------------------------


def test_text_is_trimmed_and_empty_becomes_none():
    assert validation.text("  Jane  ", "name") == "Jane"
    assert validation.text("   ", "name") is None
    assert validation.text(None, "name") is None


def test_text_required_and_length():
    rejects(lambda v: validation.text(v, "name", required=True), None, "REQUIRED", "name")
    rejects(lambda v: validation.text(v, "name", required=True), "  ", "REQUIRED", "name")
    assert validation.text("x" * 10, "name", 10) == "x" * 10
    rejects(lambda v: validation.text(v, "name", 10), "x" * 11, "TOO_LONG", "name")


# JSON objects -------------------------------------------------------------------------------


def object_of_size(size: int) -> dict:
    """A JSON object whose serialised form is exactly `size` characters."""
    overhead = len(json.dumps({"k": ""}))
    value = {"k": "x" * (size - overhead)}
    assert len(json.dumps(value)) == size
    return value


@pytest.mark.parametrize(
    "value", [{}, {"ip": "203.0.113.7", "notice": "v3"}, {"nested": {"list": [1, 2, {"a": None}]}}]
)
def test_json_objects_pass_through(value):
    assert validation.json_object(value, "evidence", 1024) == value


def test_json_none_is_none():
    assert validation.json_object(None, "evidence", 1024) is None


@pytest.mark.parametrize("value", [[], [1, 2], "text", 3, True])
def test_json_must_be_an_object(value):
    rejects(
        lambda v: validation.json_object(v, "attributes", 1024), value, "INVALID_JSON", "attributes"
    )


@pytest.mark.parametrize(
    ("limit", "field"),
    [
        (validation.MAX_EVIDENCE_BYTES, "evidence"),
        (validation.MAX_ATTRIBUTES_BYTES, "attributes"),
    ],
)
def test_json_size_limit_is_inclusive(limit, field):
    at_limit = object_of_size(limit)
    assert validation.json_object(at_limit, field, limit) == at_limit
    rejects(
        lambda v: validation.json_object(v, field, limit),
        object_of_size(limit + 1),
        "TOO_LARGE",
        field,
    )


def test_json_size_counts_escaped_non_ascii():
    # Each non-ASCII character serialises as a six-character \\uXXXX escape.
    rejects(
        lambda v: validation.json_object(v, "evidence", 100),
        {"k": "é" * 20},
        "TOO_LARGE",
        "evidence",
    )


def test_limits_are_the_documented_sizes():
    assert validation.MAX_EVIDENCE_BYTES == 8 * 1024
    assert validation.MAX_ATTRIBUTES_BYTES == 16 * 1024


# Datetimes ----------------------------------------------------------------------------------


def test_naive_datetimes_are_taken_as_utc():
    naive = datetime(2030, 1, 2, 3, 4, 5)
    assert validation.utc_datetime(naive, "expiresAt") == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_aware_datetimes_are_converted_to_utc():
    aware = datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=8)))
    converted = validation.utc_datetime(aware, "expiresAt")
    assert converted == aware
    assert converted.utcoffset() == timedelta(0)
    assert (converted.day, converted.hour) == (1, 19)
    assert validation.utc_datetime(None, "expiresAt") is None


def test_datetimes_past_the_supported_range_are_user_errors():
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))
    rejects(
        lambda v: validation.utc_datetime(v, "scheduleAt"), far, "INVALID_DATETIME", "scheduleAt"
    )

"""Input checks shared by the services. Each raises `UserInputError` with a stable code."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from tidings.core.errors import UserInputError

_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_TIMEZONES = frozenset(available_timezones())
MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_EVIDENCE_BYTES = 8 * 1024


def email(value: str, field: str = "email") -> str:
    """A syntactically valid address, normalised (domain lower-cased). No DNS lookups."""
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise UserInputError("INVALID_EMAIL", "Not a valid email address.", field) from None


def phone(value: str, field: str = "phone") -> str:
    """A phone number already in E.164 form (`+` and digits), and a possible one."""
    value = value.strip()
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value):
        raise UserInputError(
            "INVALID_PHONE", "Phone numbers must be in E.164 form, e.g. +8613800138000.", field
        )
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        raise UserInputError("INVALID_PHONE", "Not a possible phone number.", field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def locale(value: str, field: str = "locale") -> str:
    """A BCP 47 tag Babel knows, returned in canonical case: "zh-cn" → "zh-CN"."""
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*", value):
        raise UserInputError("INVALID_LOCALE", "Not a BCP 47 language tag.", field)
    try:
        Locale.parse(value.replace("_", "-"), sep="-")
    except (UnknownLocaleError, ValueError):
        raise UserInputError("INVALID_LOCALE", "Unknown locale.", field) from None
    parts = re.split(r"[-_]", value)
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            canonical.append(part.title())
        elif len(part) == 2 or (len(part) == 3 and part.isdigit()):
            canonical.append(part.upper())
        else:
            canonical.append(part.lower())
    return "-".join(canonical)


def timezone(value: str, field: str = "timezone") -> str:
    """An IANA timezone name, e.g. "Asia/Shanghai"."""
    value = value.strip()
    if value not in _TIMEZONES:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserInputError("INVALID_TIMEZONE", "Unknown IANA timezone.", field) from None
    return value


def key(value: str, field: str = "key") -> str:
    """A category key: lower-case letters, digits, `_`, `.` and `-`, at most 64."""
    if not _KEY.fullmatch(value):
        raise UserInputError(
            "INVALID_KEY",
            "Keys are 1-64 lower-case letters, digits, '_', '.' or '-'.",
            field,
        )
    return value


def source(value: str, field: str = "source") -> str:
    value = value.strip().lower()
    if not _SOURCE.fullmatch(value):
        raise UserInputError(
            "INVALID_SOURCE", "A source is a short word such as signup_form or api.", field
        )
    return value


def clock(value: str, field: str) -> str:
    """A wall-clock time "HH:MM" (24-hour)."""
    if not _CLOCK.fullmatch(value):
        raise UserInputError("INVALID_TIME", "Times are HH:MM on a 24-hour clock.", field)
    return value


def text(
    value: str | None, field: str, max_length: int = 255, *, required: bool = False
) -> str | None:
    if value is None:
        if required:
            raise UserInputError("REQUIRED", "This field is required.", field)
        return None
    value = value.strip()
    if required and not value:
        raise UserInputError("REQUIRED", "This field is required.", field)
    if len(value) > max_length:
        raise UserInputError("TOO_LONG", f"At most {max_length} characters.", field)
    return value or None


def json_object(value: object, field: str, max_bytes: int) -> dict | None:
    """A JSON object (not a list or scalar) of bounded size."""
    import json

    if value is None:
        return None
    if not isinstance(value, dict):
        raise UserInputError("INVALID_JSON", "Expected a JSON object.", field)
    if len(json.dumps(value, default=str)) > max_bytes:
        raise UserInputError("TOO_LARGE", f"At most {max_bytes} bytes of JSON.", field)
    return value


def utc_datetime(value: datetime | None, field: str) -> datetime | None:
    """A datetime input (past or future alike) in UTC; one without a zone is taken as UTC.
    `field` names the input in the error, so each caller says which one it checked.

    "9999-12-31T23:59:59-14:00" parses, but lies past year 9999 in UTC: saving it raised an
    OverflowError (an unexpected error) instead of a user error.
    """
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise UserInputError("INVALID_DATETIME", "Out of the supported range.", field) from None

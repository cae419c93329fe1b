"""Input checks shared by the services. Each raises `UserInputError` with a stable code."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from importlib import resources

import phonenumbers
from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from tidings.core.errors import UserInputError

_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")


def _iana_timezones() -> frozenset[str]:
    """Every zone and link of the IANA database, as the `tzdata` package lists them (its
    `zones` file), bar `Factory`, which is no place. What the system's zoneinfo folder also
    holds (`localtime`, `posixrules`, the `posix/` and `right/` copies) is not a timezone
    name, although `ZoneInfo` would load it. Links such as `Asia/Calcutta` stay."""
    names = resources.files("tzdata").joinpath("zones").read_text(encoding="utf-8").split()
    return frozenset(names) - {"Factory"}


_TIMEZONES = _iana_timezones()
# The names a customer may choose, sorted: what the preference page offers.
TIMEZONES: tuple[str, ...] = tuple(sorted(_TIMEZONES))
# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt): characters that show as
# nothing, whatever their category (zero-width spaces and joiners, bidi controls, variation
# selectors, Hangul fillers, tags), so `victim-1\u200b` would look like `victim-1`.
_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
# Control, format, surrogate, private-use and unassigned characters, and line breaks.
_NOT_IN_IDENTIFIERS = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# In names people read: what reorders or hides text. Joiners (ZWJ, ZWNJ) and variation
# selectors stay: Persian, Indic scripts and emoji need them.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_HIDDEN_IN_NAMES = _BIDI_CONTROLS | frozenset(
    "\u00ad\u115f\u1160\u200b\u2060\u2061\u2062\u2063\u2064\u3164\ufeff\uffa0"
)
_NOT_IN_NAMES = frozenset({"Cc", "Cs", "Zl", "Zp"})
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
    """An IANA timezone name or link, e.g. "Asia/Shanghai" or "Asia/Calcutta"; not the
    system's `localtime`, `Factory`, nor the `posix/` and `right/` copies."""
    value = value.strip()
    if value not in _TIMEZONES:
        raise UserInputError("INVALID_TIMEZONE", "Unknown IANA timezone.", field)
    return value


def _ignorable(char: str) -> bool:
    point = ord(char)
    return any(low <= point <= high for low, high in _IGNORABLE)


def _refuse(char: str, field: str, what: str) -> None:
    name = unicodedata.name(char, "unnamed")
    raise UserInputError(
        "INVALID_CHARACTERS",
        f"{what} may not contain invisible, control or formatting characters "
        f"(found U+{ord(char):04X} {name}).",
        field,
    )


def _identifier_characters(value: str, field: str) -> None:
    for char in value:
        category = unicodedata.category(char)
        if (
            category in _NOT_IN_IDENTIFIERS
            or (category == "Zs" and char != " ")
            or _ignorable(char)
        ):
            _refuse(char, field, "Identifiers")


def identifier(
    value: str | None, field: str, max_length: int = 255, *, required: bool = False
) -> str | None:
    """Text that tells one record from another (an externalId): NFC, and no character that
    shows as nothing or moves other text, so two identifiers that look alike are equal.
    Plain spaces inside are kept; any other space is refused."""
    if value is not None:
        value = unicodedata.normalize("NFC", value).strip()
        _identifier_characters(value, field)
    return text(value, field, max_length, required=required)


def name(
    value: str | None, field: str, max_length: int = 255, *, required: bool = False
) -> str | None:
    """A name people read (a customer's, a category's, an API key's label): NFC, any script
    and its spaces, but no control character, line break, bidi control or character that
    shows as nothing on its own, which could hide or reorder what a reader sees."""
    if value is not None:
        value = unicodedata.normalize("NFC", value).strip()
        for char in value:
            if unicodedata.category(char) in _NOT_IN_NAMES or char in _HIDDEN_IN_NAMES:
                _refuse(char, field, "Names")
    return text(value, field, max_length, required=required)


def key(value: str, field: str = "key") -> str:
    """A category key: lower-case letters, digits, `_`, `.` and `-`, at most 64. An invisible
    character is named as such, not as a mere bad key."""
    _identifier_characters(value, field)
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

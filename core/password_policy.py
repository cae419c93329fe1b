"""What a staff password must be: long enough, and not one attackers try first.

Refused, each with its own `UserError` code (field "password"):
- WEAK_PASSWORD: shorter than `MIN_PASSWORD` characters;
- TOO_LONG: over 1024 characters (argon2 would hash it, but nobody types that);
- COMMON_PASSWORD: one of the 30,000 most common passwords (core/common_passwords.txt, with
  its provenance and licence), ignoring case; or such a password with only digits and
  punctuation around it ("password2024!", "123456iloveyou"); or fewer than 4 distinct
  characters ("aaaaaaaaaaaa", "abababababab").
"""

from __future__ import annotations

import string
from functools import cache
from importlib import resources

from tidings.core.errors import UserInputError

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
MIN_DISTINCT = 4
_PADDING = string.digits + string.punctuation + " "


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, lower-cased; read once per process."""
    text = resources.files("tidings.core").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    lowered = password.lower()
    common = common_passwords()
    if lowered in common or len(set(lowered)) < MIN_DISTINCT:
        return True
    core = lowered.strip(_PADDING)
    return bool(core) and core != lowered and core in common


def check_password(password: str) -> str:
    """`password` when acceptable; otherwise a `UserInputError` saying why."""
    if len(password) < MIN_PASSWORD:
        raise UserInputError(
            "WEAK_PASSWORD", f"Passwords need at least {MIN_PASSWORD} characters.", "password"
        )
    if len(password) > MAX_PASSWORD:
        raise UserInputError("TOO_LONG", f"At most {MAX_PASSWORD} characters.", "password")
    if is_common(password):
        raise UserInputError(
            "COMMON_PASSWORD",
            "This password is among the most common ones attackers try first: choose another.",
            "password",
        )
    return password

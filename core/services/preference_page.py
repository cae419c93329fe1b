"""The preference page's model: what it shows, what a submitted form says, and its errors.
Plain data, built and read by `PreferenceCenter` (preference_center.py)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from tidings.core.enums import CategoryKind, Frequency, GrantStatus
from tidings.core.models import Customer
from tidings.core.viewer import Viewer, ViewerKind

# Recorded in the evidence of every change the page makes: which page the customer saw.
PAGE_VERSION = "1"
PAGE_SOURCE = "preference_center"
ONE_CLICK_SOURCE = "one_click_unsubscribe"
# The order channels appear in; others follow alphabetically.
CHANNEL_ORDER = ("email", "push", "sms", "in_app")
ACTIVE = frozenset({GrantStatus.GRANTED, GrantStatus.PENDING})


class ChannelState:
    """What a channel's row says, beside its checkbox. Keys of the page's strings."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    NEVER_ASKED = "never_asked"
    PENDING = "pending"
    ON = "on"  # TRANSACTIONAL: sent on this channel
    OFF = "off"


STATE_OF = {
    GrantStatus.GRANTED: ChannelState.GRANTED,
    GrantStatus.WITHDRAWN: ChannelState.WITHDRAWN,
    GrantStatus.EXPIRED: ChannelState.EXPIRED,
    GrantStatus.PENDING: ChannelState.PENDING,
}


@dataclass(frozen=True)
class ChannelRow:
    channel: str
    state: str
    checked: bool
    # MARKETING only: the grant status now (None: never asked).
    status: GrantStatus | None = None


@dataclass(frozen=True)
class CategoryRow:
    key: str
    name: str
    description: str | None
    kind: CategoryKind
    locked: bool  # required: shown, never changed
    channels: tuple[ChannelRow, ...]
    frequency: Frequency

    @property
    def marketing(self) -> bool:
        return self.kind is CategoryKind.MARKETING

    def checked(self) -> tuple[str, ...]:
        return tuple(row.channel for row in self.channels if row.checked)


@dataclass(frozen=True)
class PageModel:
    customer_id: uuid.UUID
    name: str | None
    locale: str
    timezone: str
    categories: tuple[CategoryRow, ...]
    # One pair for the page: the first category's that has one.
    quiet_start: str | None
    quiet_end: str | None

    def category(self, key: str) -> CategoryRow | None:
        return next((row for row in self.categories if row.key == key), None)


@dataclass
class Submission:
    """A submitted form, as plain values (the route parses the HTTP body)."""

    name: str | None
    locale: str
    timezone: str
    checked: set[tuple[str, str]] = field(default_factory=set)  # (category, channel)
    frequencies: dict[str, str] = field(default_factory=dict)
    quiet_start: str = ""
    quiet_end: str = ""


@dataclass
class SaveResult:
    granted: int = 0
    withdrawn: int = 0
    preferences: int = 0
    profile: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.granted or self.withdrawn or self.preferences or self.profile)


class FormError(Exception):
    """The form had bad fields; `errors` maps a field name to an error code. Nothing saved."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        super().__init__("invalid form")
        self.errors = dict(errors)


def ordered_channels(channels: frozenset[str]) -> tuple[str, ...]:
    known = [name for name in CHANNEL_ORDER if name in channels]
    return (*known, *sorted(channels - set(known)))


def customer_viewer(customer: Customer) -> Viewer:
    return Viewer(ViewerKind.CUSTOMER, customer.id, token_version=customer.token_version)

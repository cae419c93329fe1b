"""Set-up shared by the page tests: a customer, three categories, links and form fields."""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from html.parser import HTMLParser

from tests.conftest import Api
from tidings.core.enums import CategoryKind, GrantStatus
from tidings.core.models import Category, Customer, PermissionEntry, PermissionState
from tidings.core.services.consent import GrantRequest
from tidings.core.viewer import Viewer, ViewerKind

NAME = "Zoë Pagetest"
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


@dataclass
class Setup:
    customer: Customer
    token: str  # the preference link's token

    @property
    def id(self) -> uuid.UUID:
        return self.customer.id

    @property
    def path(self) -> str:
        return f"/preferences/{self.token}"


async def make_categories() -> None:
    await Category.create(
        key="news",
        name="Newsletter",
        description="Our monthly letter about new products.",
        kind=CategoryKind.MARKETING,
        default_channels=["email"],
        respect_quiet_hours=True,
    )
    await Category.create(
        key="orders",
        name="Order updates",
        description="Where your parcel is.",
        kind=CategoryKind.TRANSACTIONAL,
        default_channels=["email", "push"],
        respect_quiet_hours=False,
    )
    await Category.create(
        key="security",
        name="Security alerts",
        description="Sign-ins from new devices.",
        kind=CategoryKind.TRANSACTIONAL,
        default_channels=["email"],
        respect_quiet_hours=False,
        required=True,
    )


async def make_setup(api: Api, locale: str = "en", categories: bool = True) -> Setup:
    customer = await Customer.create(
        external_id=f"page-{secrets.token_hex(4)}",
        name=NAME,
        email="zoe@example.com",
        locale=locale,
        timezone="Europe/London",
    )
    if categories:
        await make_categories()
    token = api.runtime.links.preferences_token(customer.id, customer.token_version)
    return Setup(customer, token)


async def grant(api: Api, customer_id: uuid.UUID, channel: str, category: str = "news") -> None:
    viewer = Viewer(ViewerKind.CUSTOMER, customer_id)
    await api.runtime.services.consent.grant(
        viewer, None, GrantRequest(channel, category, "signup_form")
    )


async def entries(customer_id: uuid.UUID) -> list[PermissionEntry]:
    return await PermissionEntry.filter(customer_id=customer_id).order_by("recorded_at")


async def status(
    customer_id: uuid.UUID, channel: str, category: str = "news"
) -> GrantStatus | None:
    row = await PermissionState.filter(
        customer_id=customer_id, channel=channel, category=category
    ).first()
    return None if row is None else GrantStatus(row.status)


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def form(csrf: str, checked: list[tuple[str, str]], **fields: str) -> dict[str, object]:
    """A preference form as the page would send it: profile fields as shown unless given."""
    body: dict[str, object] = {
        "csrf": csrf,
        "action": "save",
        "name": NAME,
        "locale": "en",
        "timezone": "Europe/London",
        "quiet_start": "",
        "quiet_end": "",
    }
    for category, channel in checked:
        body[f"c:{category}:{channel}"] = "on"
    body.update(fields)
    return body


class _Form(HTMLParser):
    """What a browser would submit from the page's first form (the settings form)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.forms = 0
        self._select: str | None = None
        self._first_option: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms += 1
        if self.forms != 1 or "disabled" in a:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox":
                if "checked" in a:
                    self.fields[a["name"]] = a.get("value", "on")
            else:
                self.fields[a["name"]] = a.get("value", "")
        elif tag == "select":
            self._select = a.get("name")
            self._first_option = None
        elif tag == "option" and self._select:
            if self._first_option is None:
                self._first_option = a.get("value", "")
                self.fields.setdefault(self._select, self._first_option)
            if "selected" in a:
                self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def shown_form(html: str) -> dict[str, str]:
    """The settings form as the page shows it: submitting it unchanged changes nothing."""
    parser = _Form()
    parser.feed(html)
    return parser.fields

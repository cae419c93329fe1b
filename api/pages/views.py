"""The customer pages' routes: thin. Each reads its link, asks `PreferenceCenter` or the consent
service, and renders a template. Every invalid link, whatever the cause, gets the same 404 page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import babel
import jinja2
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from tidings.api.pages.i18n import LOCALES, Words, pick
from tidings.api.pages.security import HEADERS, Csrf, evidence
from tidings.core.audit import record
from tidings.core.audit.context import bind_actor
from tidings.core.links import InvalidLinkError, LinkClaims, LinkKind, LinkSigner
from tidings.core.models import Category, Customer
from tidings.core.services.confirmation import ConfirmOutcome
from tidings.core.services.consent import ConsentService
from tidings.core.services.preference_center import PreferenceCenter
from tidings.core.services.preference_page import FormError, Submission
from tidings.core.validation import TIMEZONES

TEMPLATES = Path(__file__).resolve().parent / "templates"
ONE_CLICK = "One-Click"
NOTICES = {"saved", "unchanged", "unsubscribed_all"}


class CustomerPages:
    def __init__(
        self,
        links: LinkSigner,
        center: PreferenceCenter,
        consent: ConsentService,
        csrf: Csrf,
    ) -> None:
        self.links = links
        self.center = center
        self.consent = consent
        self.csrf = csrf
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )

    # Helpers ---------------------------------------------------------------------------------

    def render(self, name: str, words: Words, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.env.get_template(name).render(t=words, lang=words.locale, **context)
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    def invalid(self, request: Request) -> HTMLResponse:
        """One page for every bad link: nothing about whom it was for."""
        words = Words(pick(request.query_params.get("lang"), _accepted(request)))
        return self.render("invalid.html", words, status=404)

    def refused(self) -> Response:
        return Response("Forbidden", status_code=403, headers=HEADERS, media_type="text/plain")

    def claims(self, request: Request, kind: LinkKind) -> LinkClaims | None:
        try:
            return self.links.verify(request.path_params["token"], kind)
        except InvalidLinkError:
            return None

    async def _preferences_customer(self, request: Request) -> Customer | None:
        claims = self.claims(request, LinkKind.PREFERENCES)
        if claims is None:
            return None
        customer = await self.center.customer(claims.customer_id, claims.version)
        if customer is not None:
            bind_actor(f"customer:{customer.id}")  # the link opens the page as the customer
        return customer

    # Links and form actions are relative ("?lang=en"), as is the stylesheet ("../static/"):
    # TIDINGS_PUBLIC_URL may have a path (https://shop.example/tidings) that a proxy strips.

    def _languages(self, current: str) -> list[dict[str, Any]]:
        return [
            {
                "code": code,
                "name": LOCALES[code]["language_name"],
                "href": f"?lang={code}",
                "current": code == current,
            }
            for code in LOCALES
        ]

    # Preferences -----------------------------------------------------------------------------

    async def preferences(self, request: Request) -> Response:
        customer = await self._preferences_customer(request)
        if customer is None:
            return self.invalid(request)
        if request.method == "POST":
            return await self._save(request, customer)
        notice = request.query_params.get("notice")
        return await self._page(request, customer, notice=notice if notice in NOTICES else None)

    async def _page(
        self,
        request: Request,
        customer: Customer,
        *,
        notice: str | None = None,
        errors: dict[str, str] | None = None,
        form: Submission | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        model = await self.center.page(customer)
        if model.name is not None:  # the page shows the customer's own name
            await record(
                "customer.read",
                customer_id=customer.id,
                detail={"fields": ["name"], "operation": "preference_page"},
            )
        words = Words(pick(request.query_params.get("lang"), customer.locale))
        token = request.path_params["token"]
        locales = list(LOCALES)
        if customer.locale not in locales:
            locales.append(customer.locale)
        return self.render(
            "preferences.html",
            words,
            status=status,
            model=model,
            form=form,
            errors=errors or {},
            notice=notice,
            csrf=self.csrf.field(token),
            action=f"?lang={words.locale}",
            languages=self._languages(words.locale),
            locales=[(code, language_name(code)) for code in locales],
            timezones=TIMEZONES,
        )

    async def _save(self, request: Request, customer: Customer) -> Response:
        token = request.path_params["token"]
        body = await request.form()
        if not self.csrf.same_site(request) or not self.csrf.valid(token, body.get("csrf")):
            return self.refused()
        lang = pick(request.query_params.get("lang"), customer.locale)
        if body.get("action") == "unsubscribe_all":
            await self.center.unsubscribe_all(customer, evidence(request))
            notice = "unsubscribed_all"
        else:
            form = _submission(body)
            try:
                result = await self.center.save(customer, form, evidence(request))
            except FormError as error:
                return await self._page(
                    request, customer, errors=error.errors, form=form, status=400
                )
            notice = "saved" if result.changed else "unchanged"
        return RedirectResponse(f"?lang={lang}&notice={notice}", status_code=303, headers=HEADERS)

    # Unsubscribe -----------------------------------------------------------------------------

    async def _link_target(
        self, request: Request, kind: LinkKind
    ) -> tuple[LinkClaims, Customer, list[Category]] | None:
        """The link's claims, customer and categories (an unsubscribe link from a digest names
        several), or None when any is gone."""
        claims = self.claims(request, kind)
        target = await self.center.link_target(claims) if claims is not None else None
        if claims is None or target is None:
            return None
        customer, categories = target
        bind_actor(f"customer:{customer.id}")
        return claims, customer, categories

    async def unsubscribe(self, request: Request) -> Response:
        target = await self._link_target(request, LinkKind.UNSUBSCRIBE)
        if target is None:
            return self.invalid(request)
        claims, customer, categories = target
        words = Words(pick(request.query_params.get("lang"), customer.locale))
        names = {
            "category": words("list_separator").join(c.name for c in categories),
            "channel": words(f"channel.{claims.channel}"),
        }
        if request.method == "GET":
            return self.render(
                "unsubscribe.html",
                words,
                names=names,
                done=False,
                action=f"?lang={words.locale}",
            )
        body = await request.form()
        if body.get("List-Unsubscribe") != ONE_CLICK:
            return Response(
                "Expected List-Unsubscribe=One-Click",
                status_code=400,
                headers=HEADERS,
                media_type="text/plain",
            )
        assert claims.channel is not None
        await self.center.one_click(
            customer, claims.categories, claims.channel, evidence(request), claims.delivery_id
        )
        return self.render("unsubscribe.html", words, names=names, done=True, action="")

    # Confirm ---------------------------------------------------------------------------------

    async def confirm(self, request: Request) -> Response:
        """GET asks (and says so when there is nothing left to confirm); POST confirms."""
        target = await self._link_target(request, LinkKind.CONFIRM)
        if target is None:
            return self.invalid(request)
        claims, customer, (category,) = target
        assert claims.entry_id is not None
        pending = await self.consent.pending_entry(customer.id, claims.entry_id)
        if pending is None:
            return self.invalid(request)
        words = Words(pick(request.query_params.get("lang"), customer.locale))
        token = request.path_params["token"]
        context = {
            "names": {"category": category.name, "channel": words(f"channel.{claims.channel}")},
            "description": category.description,
            "csrf": self.csrf.field(token),
            "action": f"?lang={words.locale}",
            "outcome": None if pending.outcome is ConfirmOutcome.CONFIRMED else pending.outcome,
        }
        if request.method == "GET":
            return self.render("confirm.html", words, **context)
        body = await request.form()
        if not self.csrf.same_site(request) or not self.csrf.valid(token, body.get("csrf")):
            return self.refused()
        outcome = await self.consent.confirm(customer.id, claims.entry_id, evidence(request))
        context["outcome"] = outcome
        return self.render("confirm.html", words, **context)


def language_name(code: str) -> str:
    """A locale's name in its own language: 简体中文, English (United Kingdom)."""
    if code in LOCALES:
        return LOCALES[code]["language_name"]
    try:
        locale = babel.Locale.parse(code, sep="-")
        return locale.get_display_name(locale) or code
    except (ValueError, babel.UnknownLocaleError):
        return code


def _accepted(request: Request) -> str | None:
    header = request.headers.get("accept-language", "")
    return header.split(",", 1)[0].strip() or None


def _submission(body: FormData) -> Submission:
    checked: set[tuple[str, str]] = set()
    frequencies: dict[str, str] = {}
    for key, value in body.multi_items():
        if not isinstance(value, str):
            continue
        if key.startswith("c:"):
            category, _, channel = key[2:].partition(":")
            checked.add((category, channel))
        elif key.startswith("f:"):
            frequencies[key[2:]] = value

    def text(name: str) -> str:
        value = body.get(name, "")
        return value if isinstance(value, str) else ""

    return Submission(
        name=text("name"),
        locale=text("locale"),
        timezone=text("timezone"),
        checked=checked,
        frequencies=frequencies,
        quiet_start=text("quiet_start"),
        quiet_end=text("quiet_end"),
    )

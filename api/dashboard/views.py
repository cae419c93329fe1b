"""The dashboard's routes: thin. Each reads the session (re-checking the staff member on every
request), asks `DashboardData` for tables, and renders a template, a CSV or JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from tidings.api.pages.i18n import pick
from tidings.core.audit.context import bind_actor
from tidings.core.enums import Tier
from tidings.core.errors import TooManyAttemptsError
from tidings.core.models import Category, Staff
from tidings.core.services.staff import StaffService, login_failed
from tidings.core.services.stats import STATS_ROLES
from tidings.core.viewer import Viewer, ViewerKind
from tidings.schema.context import client_ip

from .filters import PRESETS, Filters, parse_filters
from .i18n import LOCALES, DashboardWords
from .session import DashboardSessions
from .tables import TABLES, DashboardData, Table

TEMPLATES = Path(__file__).resolve().parent / "templates"
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Robots-Tag": "noindex",
}
MAX_FIELD = 1024


@dataclass
class Member:
    """The signed-in staff member and the session's CSRF field."""

    staff: Staff
    csrf: str

    @property
    def viewer(self) -> Viewer:
        return Viewer(
            kind=ViewerKind.STAFF,
            id=self.staff.id,
            role=self.staff.role,
            token_version=self.staff.token_version,
        )

    @property
    def may_read(self) -> bool:
        return self.staff.role in STATS_ROLES


class Dashboard:
    def __init__(
        self,
        sessions: DashboardSessions,
        staff: StaffService,
        data: DashboardData,
        channels: list[str],
    ) -> None:
        self.sessions = sessions
        self.staff = staff
        self.data = data
        self.channels = channels
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.env.filters["cell"] = format_cell

    # Helpers ---------------------------------------------------------------------------------

    def words(self, request: Request) -> DashboardWords:
        header = request.headers.get("accept-language", "").split(",", 1)[0].strip()
        return DashboardWords(pick(request.query_params.get("lang"), header or None))

    def render(
        self, name: str, words: DashboardWords, status: int = 200, **context: Any
    ) -> HTMLResponse:
        languages = [
            {"code": c, "name": LOCALES[c]["language_name"], "current": c == words.locale}
            for c in LOCALES
        ]
        html = self.env.get_template(name).render(
            t=words, lang=words.locale, languages=languages, **context
        )
        return HTMLResponse(html, status_code=status, headers=HEADERS)

    async def member(self, request: Request) -> Member | None:
        """The session's staff member while active and unrevoked; None otherwise."""
        claims = self.sessions.read(request)
        if claims is None:
            return None
        staff = await Staff.filter(id=claims.staff_id, active=True).first()
        if staff is None or staff.token_version != claims.version:
            return None
        bind_actor(f"staff:{staff.id}")
        return Member(staff, self.sessions.csrf(claims.nonce))

    def refused(self, text: str = "Forbidden") -> Response:
        return Response(text, status_code=403, headers=HEADERS, media_type="text/plain")

    async def signin_page(
        self,
        request: Request,
        words: DashboardWords,
        error: str | None = None,
        status: int = 200,
        email: str = "",
    ) -> Response:
        nonce, new = self.sessions.login_nonce(request)
        response = self.render(
            "signin.html",
            words,
            status=status,
            csrf=self.sessions.csrf(nonce),
            error=error,
            email=email,
        )
        if new:
            self.sessions.set_login_cookie(response, nonce)
        if request.cookies.get("tidings_dashboard"):
            self.sessions.clear(response)  # expired, revoked or not ours: gone
        return response

    async def filters(self, request: Request) -> Filters:
        categories = await Category.all().order_by("key").values_list("key", flat=True)
        today = datetime.now(UTC).date()
        return parse_filters(request.query_params, list(categories), self.channels, today)

    # Sign-in and sign-out --------------------------------------------------------------------

    async def sign_in(self, request: Request) -> Response:
        words = self.words(request)
        form = await request.form()
        nonce = request.cookies.get("tidings_dashboard_login", "")
        if not self.sessions.same_site(request):
            return self.refused()
        if not nonce or not self.sessions.csrf_valid(nonce, form.get("csrf")):
            return await self.signin_page(request, words, words("signin.expired"), status=403)
        email, password = form.get("email"), form.get("password")
        staff = None
        typed = email[:320] if isinstance(email, str) else ""
        if isinstance(email, str) and isinstance(password, str) and len(email) <= 320:
            if 0 < len(password) <= MAX_FIELD:
                try:
                    staff = await self.staff.sign_in(
                        email, password, client_ip(request), via="dashboard"
                    )
                except TooManyAttemptsError as error:
                    text = words("signin.throttled", seconds=str(error.retry_after))
                    return await self.signin_page(request, words, text, 429, typed)
            else:
                await login_failed("dashboard")
        else:
            await login_failed("dashboard")
        if staff is None:
            return await self.signin_page(request, words, words("signin.wrong"), 400, typed)
        response = RedirectResponse(f"../dashboard?lang={words.locale}", 303, headers=HEADERS)
        self.sessions.set_cookie(response, self.sessions.issue(staff.id, staff.token_version))
        self.sessions.clear_login_cookie(response)
        return response

    async def sign_out(self, request: Request) -> Response:
        words = self.words(request)
        member = await self.member(request)
        form = await request.form()
        if not self.sessions.same_site(request):
            return self.refused()
        if member is not None:
            if not self.sessions.matches(member.csrf, form.get("csrf")):
                return self.refused()
            # every session and token of the member ends
            await self.staff.logout(member.staff, via="dashboard")
        response = RedirectResponse(f"../dashboard?lang={words.locale}", 303, headers=HEADERS)
        self.sessions.clear(response)
        return response

    # The page and its data -------------------------------------------------------------------

    async def page(self, request: Request) -> Response:
        words = self.words(request)
        member = await self.member(request)
        if member is None:
            return await self.signin_page(request, words)
        if not member.may_read:
            return self.render("forbidden.html", words, status=403, member=member)
        filters = await self.filters(request)
        tables = {name: await self.data.table(name, member.viewer, filters) for name in TABLES}
        query = filters.query(words.locale)
        return self.render(
            "dashboard.html",
            words,
            member=member,
            filters=filters,
            presets=PRESETS,
            categories=await Category.all().order_by("key"),
            channels=self.channels,
            tiers=[t.value for t in Tier],
            tables=tables,
            query=query,
            keep=filters.query(),
            charts=chart_data(tables, words),
        )

    async def table_csv(self, request: Request) -> Response:
        name = request.path_params["table"]
        if name not in TABLES:
            return Response("Not Found", status_code=404, headers=HEADERS, media_type="text/plain")
        member = await self.member(request)
        if member is None:
            return Response("Sign in first", 401, headers=HEADERS, media_type="text/plain")
        if not member.may_read:
            return self.refused()
        filters = await self.filters(request)
        table = await self.data.table(name, member.viewer, filters)
        filename = f"tidings-{name}-{filters.first_day}-{filters.last_day}.csv"
        headers = {**HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
        return Response(table.csv(), headers=headers, media_type="text/csv; charset=utf-8")

    async def live(self, request: Request) -> Response:
        """The latest messages' table as JSON, for the page to poll."""
        member = await self.member(request)
        if member is None:
            return JSONResponse({"error": "UNAUTHENTICATED"}, 401, headers=HEADERS)
        if not member.may_read:
            return JSONResponse({"error": "FORBIDDEN"}, 403, headers=HEADERS)
        table = await self.data.messages(member.viewer, await self.filters(request))
        return JSONResponse({"columns": list(table.columns), "rows": table.rows}, headers=HEADERS)


def format_cell(value: object, column: str, t: DashboardWords) -> str:
    """A table cell as the page shows it: rates as percentages, none as a dash."""
    if value is None:
        return "–"
    if column.endswith("_rate") and isinstance(value, float):
        return f"{value * 100:.1f}%"
    if value == "other" and column in ("category", "channel"):
        return t("other")
    return str(value)


def chart_data(tables: dict[str, Table], t: DashboardWords) -> dict[str, Any]:
    """What dashboard.js draws, with its labels in the page's language."""
    funnel, daily, consent = tables["funnel"], tables["daily"], tables["consent"]
    stages = ["attempted", "sent", "delivered", "opened", "clicked", "converted"]
    rates = ["delivery_rate", "open_rate", "click_rate", "conversion_rate"]

    def name(value: object) -> str:
        return t("other") if value == "other" else str(value)

    return {
        "funnel": {
            "stages": [t(f"col.{s}") for s in stages],
            "series": [
                {"name": name(row["category"]), "data": [row[s] for s in stages]}
                for row in funnel.rows
            ],
        },
        "daily": {
            "days": [row["day"] for row in daily.rows],
            "rates": [
                {"name": t(f"col.{r}"), "data": [row[r] for row in daily.rows]} for r in rates
            ],
            "complaints": [
                {"name": t(f"col.{c}"), "data": [row[c] for row in daily.rows]}
                for c in ("unsubscribed", "complained")
            ],
        },
        "consent": {
            "categories": sorted({name(row["category"]) for row in consent.rows}),
            "channels": sorted({name(row["channel"]) for row in consent.rows}),
            "cells": [
                [name(row["channel"]), name(row["category"]), row["opt_in_rate"]]
                for row in consent.rows
            ],
            "label": t("col.opt_in_rate"),
        },
        "messages": {"updated": t("messages.updated", time="{time}")},
    }

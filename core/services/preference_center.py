"""The customer's own preference page, as data: what it shows and what a submitted form changes.

The page shows, per category and channel, a checkbox. What a save does is the difference
between what the page showed (worked out again from the database when the form comes back)
and what the form says, so an unchanged form writes nothing:

- MARKETING: a checkbox is the consent. Checked where the grant is not GRANTED or PENDING
  grants; unchecked where it is withdraws. The preference (channels = the checked ones,
  frequency, quiet hours) is stored too, when it differs from what was shown.
- TRANSACTIONAL, not required: checkboxes are the preference's channels; no consent needed.
- Required categories are shown locked and never changed, whatever a forged form says; so
  is anything the page did not show.

Every change goes through `ConsentService` and `CustomerService` as the customer itself, so
the ledger names the customer as the one who recorded it. Everything is validated before the
first write: a bad field saves nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from tidings.core import validation
from tidings.core.delivery.tiers import TierPolicies
from tidings.core.enums import CategoryKind, Frequency, GrantStatus
from tidings.core.errors import UserInputError
from tidings.core.links import LinkClaims
from tidings.core.models import Category, Customer, Delivery
from tidings.core.services.consent import (
    ConsentService,
    GrantRequest,
    PreferenceRequest,
    PreferenceRow,
    StateRow,
    effective_status,
)
from tidings.core.services.customers import CustomerFields, CustomerService
from tidings.core.services.preference_page import (
    ACTIVE,
    ONE_CLICK_SOURCE,
    PAGE_SOURCE,
    STATE_OF,
    CategoryRow,
    ChannelRow,
    ChannelState,
    FormError,
    PageModel,
    SaveResult,
    Submission,
    customer_viewer,
    ordered_channels,
)


class PreferenceCenter:
    """Builds the page model and applies forms, one-click unsubscribes and "unsubscribe all"."""

    def __init__(
        self,
        consent: ConsentService,
        customers: CustomerService,
        tiers: TierPolicies,
    ) -> None:
        self.consent = consent
        self.customers = customers
        self.tiers = tiers
        self.channels = ordered_channels(consent.channels)

    async def customer(self, customer_id: uuid.UUID, version: int | None = None) -> Customer | None:
        """The customer a link names; with `version`, only while its tokens are not revoked."""
        customer = await Customer.filter(id=customer_id).first()
        if customer is None or (version is not None and customer.token_version != version):
            return None
        return customer

    async def categories(self, keys: Sequence[str]) -> list[Category]:
        """The categories a link names (an unsubscribe link may name several)."""
        return await Category.filter(key__in=list(keys))

    async def link_target(self, claims: LinkClaims) -> tuple[Customer, list[Category]] | None:
        """The customer and categories an unsubscribe or confirmation link names (a digest's
        unsubscribe names several), in the link's order; None when any is gone, or the
        link names no category or a channel this service does not have."""
        if not claims.categories or claims.channel not in self.consent.channels:
            return None
        customer = await self.customer(claims.customer_id)
        found = {c.key: c for c in await self.categories(claims.categories)}
        if customer is None or len(found) != len(claims.categories):
            return None
        return customer, [found[key] for key in claims.categories]

    async def page(self, customer: Customer) -> PageModel:
        """Three statements whatever the number of categories: categories, grants, preferences."""
        categories = await Category.all().order_by("key")
        (states,) = await self.consent.states_for([customer.id])
        (preferences,) = await self.consent.preferences_for([customer.id])
        return self._model(customer, categories, states, preferences)

    def _model(
        self,
        customer: Customer,
        categories: Sequence[Category],
        states: Sequence[StateRow],
        preferences: Sequence[PreferenceRow],
    ) -> PageModel:
        now = datetime.now(UTC)
        grants = {(row.category, row.channel): row for row in states}
        prefs = {row.category: row for row in preferences}
        default_frequency = self.tiers.for_tier(customer.tier).marketing_frequency
        rows = []
        for category in categories:
            preference = prefs.get(category.key)
            marketing = category.kind is CategoryKind.MARKETING
            chosen = (
                preference.channels
                if preference is not None and preference.channels
                else category.default_channels
            )
            channel_rows = []
            for channel in self.channels:
                if marketing:
                    grant = grants.get((category.key, channel))
                    status = (
                        effective_status(grant.status, grant.expires_at, now) if grant else None
                    )
                    state = STATE_OF[status] if status else ChannelState.NEVER_ASKED
                    channel_rows.append(ChannelRow(channel, state, status in ACTIVE, status))
                else:
                    on = channel in chosen
                    state = ChannelState.ON if on else ChannelState.OFF
                    channel_rows.append(ChannelRow(channel, state, on))
            if preference is not None:
                frequency = Frequency(preference.frequency)
            else:
                frequency = default_frequency if marketing else Frequency.REALTIME
            rows.append(
                CategoryRow(
                    key=category.key,
                    name=category.name,
                    description=category.description,
                    kind=category.kind,
                    locked=category.required,
                    channels=tuple(channel_rows),
                    frequency=frequency,
                )
            )
        quiet = next((p for p in preferences if p.quiet_start and p.quiet_end), None)
        return PageModel(
            customer_id=customer.id,
            name=customer.name,
            locale=customer.locale,
            timezone=customer.timezone,
            categories=tuple(rows),
            quiet_start=quiet.quiet_start if quiet else None,
            quiet_end=quiet.quiet_end if quiet else None,
        )

    # Saving ----------------------------------------------------------------------------------

    def _validate(self, model: PageModel, form: Submission) -> tuple[dict, tuple[str | None, ...]]:
        """The profile's cleaned values and the quiet-hours pair, or FormError naming each bad
        field."""
        errors: dict[str, str] = {}
        profile: dict = {}
        for name, check in (
            ("name", lambda v: validation.name(v or None, "name", 255)),
            ("locale", validation.locale),
            ("timezone", validation.timezone),
        ):
            try:
                profile[name] = check(getattr(form, name))
            except UserInputError as error:
                errors[name] = error.code
        start, end = form.quiet_start.strip(), form.quiet_end.strip()
        quiet: tuple[str | None, ...] = (None, None)
        if bool(start) != bool(end):
            errors["quiet"] = "QUIET_PAIR"
        elif start:
            try:
                quiet = (validation.clock(start, "quiet"), validation.clock(end, "quiet"))
                if start == end:
                    errors["quiet"] = "QUIET_SAME"
            except UserInputError as error:
                errors["quiet"] = error.code
        for row in model.categories:
            if row.marketing and not row.locked:
                value = form.frequencies.get(row.key, row.frequency.value)
                if value not in Frequency.__members__:
                    errors[f"frequency.{row.key}"] = "INVALID_FREQUENCY"
        if errors:
            raise FormError(errors)
        return profile, quiet

    async def save(self, customer: Customer, form: Submission, evidence: dict) -> SaveResult:
        model = await self.page(customer)
        profile, (quiet_start, quiet_end) = self._validate(model, form)
        viewer = customer_viewer(customer)
        result = SaveResult()
        shown_quiet = (model.quiet_start, model.quiet_end)
        for row in model.categories:
            if row.locked:
                continue
            checked = tuple(c.channel for c in row.channels if (row.key, c.channel) in form.checked)
            if row.marketing:
                frequency = Frequency(form.frequencies.get(row.key, row.frequency.value))
                for channel in row.channels:
                    on = channel.channel in checked
                    if on and channel.status not in ACTIVE:
                        await self.consent.grant(
                            viewer,
                            None,
                            GrantRequest(channel.channel, row.key, PAGE_SOURCE, evidence),
                        )
                        result.granted += 1
                    elif not on and channel.status in ACTIVE:
                        await self.consent.withdraw(
                            viewer, None, channel.channel, row.key, PAGE_SOURCE, evidence
                        )
                        result.withdrawn += 1
            else:
                frequency = row.frequency
            shown = (row.checked(), row.frequency, shown_quiet)
            if (checked, frequency, (quiet_start, quiet_end)) != shown:
                await self.consent.set_preference(
                    viewer,
                    None,
                    PreferenceRequest(row.key, checked, frequency, quiet_start, quiet_end),
                )
                result.preferences += 1
        changed = {k: v for k, v in profile.items() if v != getattr(customer, k)}
        if changed:
            await self.customers.update_me(viewer, CustomerFields(**changed))
            result.profile = True
        return result

    async def unsubscribe_all(self, customer: Customer, evidence: dict) -> int:
        """Withdraw every GRANTED or PENDING grant of every marketing category not required."""
        model = await self.page(customer)
        viewer = customer_viewer(customer)
        count = 0
        for row in model.categories:
            if not row.marketing or row.locked:
                continue
            for channel in row.channels:
                if channel.status in ACTIVE:
                    await self.consent.withdraw(
                        viewer, None, channel.channel, row.key, PAGE_SOURCE, evidence
                    )
                    count += 1
        return count

    async def one_click(
        self,
        customer: Customer,
        categories: Sequence[str],
        channel: str,
        evidence: dict,
        delivery_id: uuid.UUID | None = None,
    ) -> bool:
        """Withdraw each of `categories` on `channel` unless already withdrawn (idempotent).
        True when a ledger entry was made; then the delivery whose link it was (one of the
        customer's own) counts as unsubscribed in the stats."""
        (states,) = await self.consent.states_for([customer.id])
        withdrawn = {
            s.category for s in states if s.channel == channel and s.status == GrantStatus.WITHDRAWN
        }
        made = False
        for category in categories:
            if category in withdrawn:
                continue
            await self.consent.withdraw(
                customer_viewer(customer), None, channel, category, ONE_CLICK_SOURCE, evidence
            )
            made = True
        if made and delivery_id is not None:
            await Delivery.filter(
                id=delivery_id, customer_id=customer.id, unsubscribed_at=None
            ).update(unsubscribed_at=datetime.now(UTC))
        return made

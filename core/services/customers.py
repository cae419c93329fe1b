"""Customers: profiles, contact points and devices."""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.audit import record
from tidings.core.crypto import active_keyring
from tidings.core.crypto.upgrade import DEVICE_TOKEN
from tidings.core.enums import Platform, Role, Tier
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.live.publisher import LivePublisher
from tidings.core.models import Customer, Device
from tidings.core.pagination import Page, paginate
from tidings.core.viewer import (
    Viewer,
    ViewerKind,
    can_read_pii,
    resolve_target,
    visible_customers_q,
)

UNSET: Any = object()


@dataclass
class CustomerFields:
    """Fields of a customer to create or change. On update, UNSET leaves a field as it is."""

    external_id: str = UNSET
    name: str | None = UNSET
    email: str | None = UNSET
    phone: str | None = UNSET
    locale: str | None = UNSET
    timezone: str | None = UNSET
    tier: Tier | None = UNSET
    attributes: dict | None = UNSET

    def cleaned(self) -> dict[str, Any]:
        """Validated column values for the fields that were given."""
        out: dict[str, Any] = {}
        if self.external_id is not UNSET:
            out["external_id"] = validation.identifier(
                self.external_id, "externalId", 255, required=True
            )
        if self.name is not UNSET:
            out["name"] = validation.name(self.name, "name", 255)
        if self.email is not UNSET:
            out["email"] = validation.email(self.email) if self.email else None
        if self.phone is not UNSET:
            out["phone"] = validation.phone(self.phone) if self.phone else None
        if self.locale is not UNSET and self.locale is not None:
            out["locale"] = validation.locale(self.locale)
        if self.timezone is not UNSET and self.timezone is not None:
            out["timezone"] = validation.timezone(self.timezone)
        if self.tier is not UNSET and self.tier is not None:
            out["tier"] = Tier(self.tier)
        if self.attributes is not UNSET:
            out["attributes"] = (
                validation.json_object(
                    self.attributes, "attributes", validation.MAX_ATTRIBUTES_BYTES
                )
                or {}
            )
        return out


def _require_admin(viewer: Viewer) -> None:
    if not viewer.has_role(Role.ADMIN):
        raise ForbiddenError("Only ADMIN may change customers.")


def device_token_hash(token: str) -> str:
    """The token's blind index (HMAC under TIDINGS_BLIND_INDEX_KEY): the token is unique
    and found again by it, while only its ciphertext is kept."""
    return active_keyring().blind_index(DEVICE_TOKEN, token)


class CustomerService:
    def __init__(self, live: LivePublisher | None = None) -> None:
        self.live = live  # revocations end the caller's live streams at once

    async def get(self, viewer: Viewer, customer_id: uuid.UUID) -> Customer | None:
        """The customer, or None when it does not exist or the caller may not see it."""
        scope = await visible_customers_q(viewer)
        if scope is None:
            return None
        return await Customer.filter(scope, id=customer_id).first()

    async def require(self, viewer: Viewer, customer_id: uuid.UUID) -> Customer:
        customer = await self.get(viewer, customer_id)
        if customer is None:
            raise NotFoundError("customerId")
        return customer

    async def get_many(self, viewer: Viewer, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Customer]:
        scope = await visible_customers_q(viewer)
        if scope is None or not ids:
            return {}
        return {c.id: c for c in await Customer.filter(scope, id__in=list(set(ids)))}

    async def list(
        self,
        viewer: Viewer,
        first: int,
        after: str | None = None,
        tier: Tier | None = None,
        search: str | None = None,
    ) -> Page[Customer]:
        scope = await visible_customers_q(viewer)
        if scope is None:
            return Page(items=[], has_next=False, has_previous=False)
        query = Customer.filter(scope)
        if tier is not None:
            query = query.filter(tier=tier)
        if search:
            # NFC, as externalIds and names are stored: a decomposed "é" finds a composed one.
            term = unicodedata.normalize("NFC", search).strip()[:255]
            query = query.filter(await self._search_q(viewer, term))
        return await paginate(query, first, after)

    async def _search_q(self, viewer: Viewer, term: str) -> Q:
        """externalId (a substring) and name for everyone; email and phone only where the
        caller may read them. Name, email and phone are encrypted: they match exactly
        (normalised: case, spaces) through their blind indexes."""
        match = Q(external_id__icontains=term) | Q(name_index=term)
        if len(term.split()) == 1:  # one word: any word of a name
            match |= Q(name_words__contains=f" {active_keyring().name_word(term)} ")
        pii = Q(email_index=term) | Q(phone_index=term)
        if viewer.has_role(Role.ADMIN) or viewer.is_customer:
            return match | pii
        if viewer.has_role(Role.AGENT):
            readable = [cid for cid in await viewer.access() if await can_read_pii(viewer, cid)]
            if readable:
                return match | (pii & Q(id__in=readable))
        return match

    async def create(self, viewer: Viewer, fields: CustomerFields) -> Customer:
        _require_admin(viewer)
        values = fields.cleaned()
        values.setdefault("attributes", {})
        try:
            async with in_transaction():
                customer = await Customer.create(**values)
                await _record_profile("customer.create", viewer, customer.id, values)
                return customer
        except IntegrityError:
            raise UserInputError(
                "DUPLICATE_EXTERNAL_ID", "A customer with this externalId exists.", "externalId"
            ) from None

    async def update(
        self, viewer: Viewer, customer_id: uuid.UUID, fields: CustomerFields
    ) -> Customer:
        customer = await self.get(viewer, customer_id)
        if customer is None:
            raise NotFoundError("id")
        _require_admin(viewer)
        values = fields.cleaned()
        if not values:
            return customer
        customer.update_from_dict(values)
        try:
            async with in_transaction():
                await customer.save(update_fields=[*values.keys(), "updated_at"])
                await _record_profile("customer.update", viewer, customer.id, values)
        except IntegrityError:
            raise UserInputError(
                "DUPLICATE_EXTERNAL_ID", "A customer with this externalId exists.", "externalId"
            ) from None
        return customer

    async def update_me(self, viewer: Viewer, fields: CustomerFields) -> Customer:
        """A customer changes its own name, locale and timezone (a customer token, or the
        preference page acting for the customer); every other field of `fields` is ignored.
        Validation as `update`'s; a field left UNSET (or a null locale/timezone) is unchanged."""
        if not viewer.is_customer:
            raise ForbiddenError("Only a customer updates its own profile.")
        customer = await Customer.filter(id=viewer.id).first()
        if customer is None:
            raise NotFoundError("id")
        own = CustomerFields(name=fields.name, locale=fields.locale, timezone=fields.timezone)
        values = own.cleaned()
        if not values:
            return customer
        customer.update_from_dict(values)
        async with in_transaction():
            await customer.save(update_fields=[*values.keys(), "updated_at"])
            await _record_profile("customer.update", viewer, customer.id, values)
        return customer

    async def revoke_tokens(self, viewer: Viewer, customer_id: uuid.UUID | None) -> Customer:
        """Revoke every token issued to the customer so far (a lost phone, say)."""
        customer_id = resolve_target(viewer, customer_id)
        customer = await self.get(viewer, customer_id)
        if customer is None:
            raise NotFoundError("customerId")
        if not (viewer.has_role(Role.ADMIN) or viewer.id == customer_id):
            raise ForbiddenError("Only ADMIN or the customer may revoke its tokens.")
        customer.token_version += 1
        async with in_transaction():
            await customer.save(update_fields=["token_version", "updated_at"])
            await record("customer.revoke_tokens", actor=viewer.ref, customer_id=customer.id)
        if self.live is not None:
            await self.live.viewer_revoked(ViewerKind.CUSTOMER.value, customer.id)
        return customer

    # Devices -------------------------------------------------------------------------------

    async def register_device(
        self, viewer: Viewer, customer_id: uuid.UUID | None, platform: Platform, token: str
    ) -> Device:
        """Register a push token; a token known already moves to this customer."""
        if not (viewer.is_customer or viewer.has_role(Role.ADMIN)):
            raise ForbiddenError("Only ADMIN or the customer registers devices.")
        customer_id = resolve_target(viewer, customer_id)
        if (
            not await can_read_pii(viewer, customer_id)
            or await self.get(viewer, customer_id) is None
        ):
            raise NotFoundError("customerId")
        token = token.strip()
        if not 16 <= len(token) <= 4096 or any(c.isspace() for c in token):
            raise UserInputError("INVALID_TOKEN", "Not a push registration token.", "token")
        digest = device_token_hash(token)
        now = datetime.now(UTC)
        async with in_transaction():
            device = await Device.filter(token_hash=digest).select_for_update().first()
            moved_from = None if device is None else device.customer_id
            if device is None:
                device = await Device.create(
                    customer_id=customer_id,
                    platform=platform,
                    token=token,
                    token_hash=digest,
                    last_seen_at=now,
                )
            else:
                device.customer_id = customer_id
                device.platform = platform
                device.last_seen_at = now
                await device.save(update_fields=["customer_id", "platform", "last_seen_at"])
            targets = {"device": str(device.id)}
            if moved_from is not None and moved_from != customer_id:
                targets["previous_customer"] = str(moved_from)
            detail = {"platform": Platform(platform).value, "known": moved_from is not None}
            await record(
                "device.register",
                actor=viewer.ref,
                customer_id=customer_id,
                targets=targets,
                detail=detail,
            )
            return device

    async def remove_device(self, viewer: Viewer, device_id: uuid.UUID) -> Device:
        if not (viewer.is_customer or viewer.has_role(Role.ADMIN)):
            raise ForbiddenError("Only ADMIN or the customer removes devices.")
        device = await Device.filter(id=device_id).first()
        if device is None or not await can_read_pii(viewer, device.customer_id):
            raise NotFoundError("id")
        async with in_transaction():
            await device.delete()
            await record(
                "device.remove",
                actor=viewer.ref,
                customer_id=device.customer_id,
                targets={"device": str(device.id)},
                detail={"platform": Platform(device.platform).value},
            )
        return device

    async def device(self, viewer: Viewer, device_id: uuid.UUID) -> Device | None:
        """A device, or None when it does not exist or the caller may not read the customer's
        devices (personal data: the customer itself, ADMIN, an AGENT with READ)."""
        device = await Device.filter(id=device_id).first()
        if device is None or not await can_read_pii(viewer, device.customer_id):
            return None
        return device

    # Batch loads for DataLoaders -----------------------------------------------------------

    async def devices_for(self, customer_ids: Sequence[uuid.UUID]) -> list[list[Device]]:
        rows = await Device.filter(customer_id__in=list(customer_ids)).order_by("id")
        grouped: dict[uuid.UUID, list[Device]] = {cid: [] for cid in customer_ids}
        for row in rows:
            grouped[row.customer_id].append(row)
        return [grouped[cid] for cid in customer_ids]


async def _record_profile(
    action: str, viewer: Viewer, customer_id: uuid.UUID, values: dict[str, Any]
) -> None:
    """A profile change names the fields it set, never their values."""
    fields = sorted(_API_NAMES.get(name, name) for name in values)
    await record(action, actor=viewer.ref, customer_id=customer_id, detail={"fields": fields})


# Model columns by their API names, so an entry reads like the mutation that made it.
_API_NAMES = {"external_id": "externalId"}

"""Customer events (`recordEvent`): conversions and anything else the company counts.

An event is stored once per customer and idempotency key: the same key again returns the first
event, and with other content is IDEMPOTENCY_CONFLICT. It is attributed to the customer's last
clicked delivery whose click falls within the attribution window (TIDINGS_ATTRIBUTION_WINDOW)
before the event, else the last opened one: both ends of the window count. The CONVERSION
webhook event is written in the same transaction as the row.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from tidings.core import validation
from tidings.core.enums import Role
from tidings.core.errors import ForbiddenError, NotFoundError, UserInputError
from tidings.core.models import Customer, Delivery
from tidings.core.models.webhooks import CustomerEvent
from tidings.core.viewer import Viewer
from tidings.core.webhooks.outbox import conversion_recorded

# DecimalField(max_digits=18, decimal_places=4): 14 digits before the point, 4 after.
MAX_INTEGER_DIGITS = 14
MAX_DECIMALS = 4
_TYPE = re.compile(r"[a-z0-9][a-z0-9_.:-]{0,63}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# A clock a little ahead of ours is not the future.
CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_ATTRIBUTION_WINDOW = timedelta(days=7)


@dataclass(frozen=True)
class EventRequest:
    """What `recordEvent` was given, unchecked."""

    idempotency_key: str
    type: str
    customer_id: uuid.UUID | None = None
    external_id: str | None = None
    value: str | None = None
    currency: str | None = None
    occurred_at: datetime | None = None


def parse_value(value: str | None, field: str = "value") -> Decimal | None:
    """A money amount sent as a string ("42.50"): finite, not negative, at most 14 digits
    before the point and 4 after."""
    if value is None:
        return None
    text = value.strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or not re.fullmatch(r"\d*\.?\d*", text.lstrip("-")):
        raise UserInputError(
            "INVALID_DECIMAL", 'Send the amount as a decimal string, e.g. "42.50".', field
        )
    if amount < 0:
        raise UserInputError(
            "NEGATIVE_VALUE",
            "Amounts are not negative: record a refund as an event of its own type.",
            field,
        )
    whole, _, decimals = text.lstrip("+").partition(".")
    if len(whole.lstrip("0")) > MAX_INTEGER_DIGITS or len(decimals.rstrip("0")) > MAX_DECIMALS:
        raise UserInputError(
            "TOO_MANY_DIGITS",
            f"At most {MAX_INTEGER_DIGITS} digits before the point and {MAX_DECIMALS} after.",
            field,
        )
    return amount.quantize(Decimal(1).scaleb(-MAX_DECIMALS))


class EventService:
    def __init__(self, attribution_window: timedelta = DEFAULT_ATTRIBUTION_WINDOW) -> None:
        self.attribution_window = attribution_window

    async def record(self, viewer: Viewer, request: EventRequest) -> CustomerEvent:
        """Store the event (or return the first one with this key), attributed."""
        if not viewer.has_role(Role.ADMIN):
            raise ForbiddenError("Only ADMIN and ADMIN API keys record customer events.")
        customer = await self._customer(request)
        key = validation.text(request.idempotency_key, "idempotencyKey", 255, required=True)
        event_type = (request.type or "").strip().lower()
        if not _TYPE.fullmatch(event_type):
            raise UserInputError(
                "INVALID_TYPE",
                "A type is 1-64 letters, digits, '_', '.', ':' or '-', e.g. purchase.",
                "type",
            )
        value = parse_value(request.value)
        currency = (request.currency or "").strip().upper() or None
        if currency is not None and not _CURRENCY.fullmatch(currency):
            raise UserInputError(
                "INVALID_CURRENCY", 'An ISO 4217 code of three letters, e.g. "EUR".', "currency"
            )
        if (value is None) != (currency is None):
            raise UserInputError(
                "CURRENCY_REQUIRED" if currency is None else "VALUE_REQUIRED",
                "Give a value and its currency together, or neither.",
                "currency" if currency is None else "value",
            )
        now = datetime.now(UTC)
        occurred_at = validation.utc_datetime(request.occurred_at, "occurredAt") or now
        if occurred_at > now + CLOCK_SKEW:
            raise UserInputError(
                "INVALID_TIME", "An event cannot happen in the future.", "occurredAt"
            )
        digest = _request_hash(customer.id, event_type, value, currency, occurred_at)
        first = await CustomerEvent.filter(customer_id=customer.id, idempotency_key=key).first()
        if first is None:
            try:
                first = await self._create(
                    viewer, customer.id, key, digest, event_type, value, currency, occurred_at
                )
                return first
            except IntegrityError:  # the same key, recorded at the same moment
                first = await CustomerEvent.get(customer_id=customer.id, idempotency_key=key)
        if first.request_hash != digest:
            raise UserInputError(
                "IDEMPOTENCY_CONFLICT",
                "This idempotency key was used with different input.",
                "idempotencyKey",
            )
        return first

    async def _customer(self, request: EventRequest) -> Customer:
        if (request.customer_id is None) == (request.external_id is None):
            raise UserInputError(
                "CUSTOMER_REQUIRED", "Give exactly one of customerId and externalId.", "customerId"
            )
        if request.customer_id is not None:
            found = await Customer.filter(id=request.customer_id).first()
            field = "customerId"
        else:
            external = validation.identifier(request.external_id, "externalId", required=True)
            found = await Customer.filter(external_id=external).first()
            field = "externalId"
        if found is None:
            raise NotFoundError(field)
        return found

    async def _create(
        self,
        viewer: Viewer,
        customer_id: uuid.UUID,
        key: str | None,
        digest: str,
        event_type: str,
        value: Decimal | None,
        currency: str | None,
        occurred_at: datetime,
    ) -> CustomerEvent:
        delivery = await self.attribute(customer_id, occurred_at)
        async with in_transaction():
            event = await CustomerEvent.create(
                customer_id=customer_id,
                type=event_type,
                value=value,
                currency=currency,
                occurred_at=occurred_at,
                idempotency_key=key,
                request_hash=digest,
                attributed_delivery_id=delivery.id if delivery else None,
                attributed_message_id=delivery.message_id if delivery else None,  # type: ignore[attr-defined]
                source=viewer.ref,
            )
            if delivery is not None:
                await credit(delivery.id, occurred_at, value)
            await conversion_recorded(event)
        return event

    async def attribute(self, customer_id: uuid.UUID, occurred_at: datetime) -> Delivery | None:
        """The customer's last clicked delivery within the window before `occurred_at`, else
        its last opened one; None when neither."""
        since = occurred_at - self.attribution_window
        for column in ("clicked_at", "opened_at"):
            found = (
                await Delivery.filter(
                    customer_id=customer_id,
                    **{f"{column}__gte": since, f"{column}__lte": occurred_at},
                )
                .order_by(f"-{column}", "-id")
                .first()
            )
            if found is not None:
                return found
        return None


async def credit(delivery_id: uuid.UUID, occurred_at: datetime, value: Decimal | None) -> None:
    """The stats' side of an attributed event: the delivery converted (at its first event's
    time) and earned the event's value. Values add up whatever their currency."""
    row = await Delivery.filter(id=delivery_id).select_for_update().first()
    if row is None:  # erased meanwhile
        return
    first = row.converted_at is None or occurred_at < row.converted_at
    row.converted_at = occurred_at if first else row.converted_at
    if value is not None:
        row.revenue = (row.revenue or Decimal(0)) + value
    await row.save(update_fields=["converted_at", "revenue"])


def _request_hash(
    customer_id: uuid.UUID,
    event_type: str,
    value: Decimal | None,
    currency: str | None,
    occurred_at: datetime,
) -> str:
    """What the idempotency key promises: the same customer, type, amount and time."""
    content = [
        str(customer_id),
        event_type,
        None if value is None else str(value),
        currency,
        occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()

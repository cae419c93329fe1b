"""Data rights: a customer's export, its erasure by ADMIN, and its own request to be erased
(docs/data-rights.md). Each a thin call into `ExportService` or `ErasureService`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON

from tidings.schema.context import Info
from tidings.schema.customers.inputs import CUSTOMER_ID
from tidings.schema.errors import ERRORS, UserError, attempt
from tidings.schema.ids import MISSING, parse_id, to_global_id
from tidings.schema.permissions import ADMIN_ONLY, Authenticated, CustomersOnly


@strawberry.type(description="The result of exportCustomerData.")
class ExportCustomerDataPayload:
    data: JSON | None = strawberry.field(
        default=None,
        description="Everything held about the customer, as one JSON document with a "
        "`schemaVersion` (docs/data-rights.md describes it); null when `errors` says why not.",
    )
    url: str | None = strawberry.field(
        default=None,
        description="A link that downloads the same document, built again when followed "
        "(under TIDINGS_PUBLIC_URL, valid for 24 hours, no login needed: hand it only to the "
        "customer).",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of eraseCustomer.")
class EraseCustomerPayload:
    customer_id: strawberry.ID | None = strawberry.field(
        default=None, description="The customer erased; null when `errors` says why not."
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type(description="The result of requestErasure.")
class RequestErasurePayload:
    erasure_due_at: datetime | None = strawberry.field(
        default=None,
        description="When the erasure is carried out: the request's time plus "
        "TIDINGS_ERASURE_GRACE_DAYS.",
    )
    erased: bool = strawberry.field(
        default=False,
        description="True when it was carried out at once (no grace period): the token used "
        "no longer works.",
    )
    errors: list[UserError] = strawberry.field(description=ERRORS)


@strawberry.type
class DataRightsMutations:
    @strawberry.mutation(
        permission_classes=[Authenticated],
        description="Everything held about a customer, as one JSON document and a download "
        "link (GDPR Art. 20, PIPL Art. 45). A customer token exports its own (no id, or its "
        "own); staff need ADMIN.",
    )
    async def export_customer_data(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID | None, strawberry.argument(description=CUSTOMER_ID)
        ] = None,
    ) -> ExportCustomerDataPayload | None:
        ctx = info.context
        found, errors = await attempt(
            ctx.services.exports.export(ctx.viewer, parse_id(customer_id, "Customer"))
        )
        if found is None:
            return ExportCustomerDataPayload(errors=errors)
        document, url = found
        return ExportCustomerDataPayload(data=document, url=url, errors=[])

    @strawberry.mutation(
        permission_classes=[ADMIN_ONLY],
        description="Erase a customer now (ADMIN): its personal data goes, queued and held "
        "deliveries are cancelled, its tokens and live sockets end; its consent proof and "
        "suppressions stay as keyed hashes. It then reads as not found everywhere. Repeating "
        "it finishes an erasure a crash interrupted.",
    )
    async def erase_customer(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer to erase.")
        ],
        reason: Annotated[
            str,
            strawberry.argument(
                description="Why (kept with the erased record; no personal data, please)."
            ),
        ],
    ) -> EraseCustomerPayload | None:
        ctx = info.context
        parsed = parse_id(customer_id, "Customer") or MISSING
        erased, errors = await attempt(ctx.services.erasure.erase(ctx.viewer, parsed, reason))
        return EraseCustomerPayload(
            customer_id=to_global_id("Customer", erased) if erased else None,
            errors=errors,
        )

    @strawberry.mutation(
        permission_classes=[CustomersOnly],
        description="Ask to be erased (customer tokens only): carried out after "
        "TIDINGS_ERASURE_GRACE_DAYS (at once by default). Asking again keeps the first time.",
    )
    async def request_erasure(self, info: Info) -> RequestErasurePayload | None:
        ctx = info.context
        found, errors = await attempt(ctx.services.erasure.request(ctx.viewer))
        if found is None:
            return RequestErasurePayload(errors=errors)
        return RequestErasurePayload(erasure_due_at=found.due_at, erased=found.erased, errors=[])

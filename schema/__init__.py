"""The GraphQL schema: types, queries and mutations per domain, limits and error handling."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from tidings.schema.access.mutations import AccessMutations
from tidings.schema.access.queries import AccessQueries
from tidings.schema.audit.queries import AuditQueries
from tidings.schema.categories.mutations import CategoryMutations
from tidings.schema.categories.queries import CategoryQueries
from tidings.schema.customers.mutations import CustomerMutations
from tidings.schema.customers.queries import CustomerQueries
from tidings.schema.customers.status import CustomerStatusMutations
from tidings.schema.data_rights.mutations import DataRightsMutations
from tidings.schema.engagement.mutations import EngagementMutations
from tidings.schema.errors import adopt_client_extensions
from tidings.schema.events.mutations import EventMutations
from tidings.schema.extensions.document_cache import DocumentCache, DocumentStore
from tidings.schema.extensions.input_text import StorableText
from tidings.schema.extensions.input_values import CodedInputExecutor, CodedInputValues
from tidings.schema.extensions.pii_reads import RecordPiiReads
from tidings.schema.extensions.query_cost import QueryCost
from tidings.schema.extensions.query_limits import QueryLimits
from tidings.schema.extensions.request_errors import (
    HideSuggestions,
    ParseErrorCode,
    SuggestionlessExecutor,
)
from tidings.schema.extensions.safe_errors import MaskUnexpectedErrors, log_errors
from tidings.schema.inbox.mutations import InboxMutations
from tidings.schema.inbox.queries import InboxQueries
from tidings.schema.live import Subscription
from tidings.schema.messages.mutations import MessageMutations
from tidings.schema.messages.queries import MessageQueries
from tidings.schema.refetch import NodeQueries
from tidings.schema.stats.queries import StatsQueries
from tidings.schema.suppressions.mutations import SuppressionMutations
from tidings.schema.suppressions.queries import SuppressionQueries
from tidings.schema.webhooks.mutations import WebhookMutations
from tidings.schema.webhooks.queries import WebhookQueries

SCHEMA_FILE = Path(__file__).resolve().parent.parent / "schema.graphql"


@strawberry.type(
    description="Reads. Every field needs a bearer token (`Authorization: Bearer ...`); what "
    "a caller sees follows its role, as each type says."
)
class Query(
    NodeQueries,
    AccessQueries,
    CustomerQueries,
    CategoryQueries,
    MessageQueries,
    InboxQueries,
    SuppressionQueries,
    WebhookQueries,
    StatsQueries,
    AuditQueries,
):
    pass


@strawberry.type(
    description="Changes. Expected failures the caller can correct come back as `errors` in "
    "the payload; an operation the caller's role may not perform is a FORBIDDEN error."
)
class Mutation(
    AccessMutations,
    CustomerMutations,
    CustomerStatusMutations,
    DataRightsMutations,
    CategoryMutations,
    MessageMutations,
    InboxMutations,
    EngagementMutations,
    SuppressionMutations,
    EventMutations,
    WebhookMutations,
):
    pass


@dataclass(frozen=True)
class SchemaOptions:
    introspection: bool = True
    max_depth: int = 10
    max_aliases: int = 30
    max_tokens: int = 5000
    max_page_size: int = 100
    max_query_cost: int = 50_000
    # Personal data reads go into the audit log; off only for a benchmark's baseline.
    record_pii_reads: bool = True


class TidingsSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Every error passes here before any extension masks it: domain errors get their
        codes first, so that they are neither logged as unexpected nor masked."""
        adopt_client_extensions(errors)
        log_errors(errors)


def build_schema(options: SchemaOptions | None = None) -> TidingsSchema:
    options = options or SchemaOptions()
    documents = DocumentStore()
    extensions: list = [
        # Limits first: they check every request, cached document or not.
        lambda: QueryLimits(
            max_depth=options.max_depth,
            max_aliases=options.max_aliases,
            max_tokens=options.max_tokens,
            max_page_size=options.max_page_size,
            introspection=options.introspection,
        ),
        lambda: QueryCost(
            max_cost=options.max_query_cost,
            max_page_size=options.max_page_size,
            max_depth=options.max_depth,
        ),
        ParseErrorCode,
        CodedInputValues,
        StorableText,
        lambda: DocumentCache(documents),
        MaskUnexpectedErrors,
    ]
    if options.record_pii_reads:
        extensions.append(RecordPiiReads)
    if not options.introspection:
        # Suggestions ("Did you mean ...?") reveal the schema too; HideSuggestions comes
        # after DisableIntrospection, whose validation rule it must run.
        extensions += [DisableIntrospection, HideSuggestions]
    return TidingsSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=(
            CodedInputExecutor if options.introspection else SuggestionlessExecutor
        ),
    )


def export_sdl() -> str:
    """The schema as SDL, as committed in `schema.graphql`."""
    return build_schema().as_str() + "\n"

"""Errors that reach clients and logs: ours pass, the unexpected are masked, nothing personal
is logged."""

from __future__ import annotations

import logging
import traceback

from graphql import GraphQLError
from strawberry.extensions import MaskErrors

from tidings.schema.errors import PUBLIC_CODES

logger = logging.getLogger("tidings.graphql")


def is_public(error: GraphQLError) -> bool:
    """Our own coded errors, and graphql-core's validation errors (they quote only the query)."""
    code = (error.extensions or {}).get("code")
    if code in PUBLIC_CODES:
        return True
    # Validation and syntax errors have no original error: they describe the document only.
    return error.original_error is None


class MaskUnexpectedErrors(MaskErrors):
    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: not is_public(error),
            error_message="Unexpected error.",
        )


def log_errors(errors: list[GraphQLError]) -> None:
    """Log unexpected errors by type, path and stack only: messages may quote personal data."""
    for error in errors:
        if is_public(error):
            continue
        original = error.original_error
        stack = "".join(traceback.format_tb(original.__traceback__)) if original else ""
        logger.error(
            "unexpected %s at %s\n%s",
            type(original).__name__ if original else "GraphQLError",
            ".".join(str(p) for p in error.path or ()),
            stack,
        )

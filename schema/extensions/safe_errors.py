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
    """Our own coded errors, and graphql-core's request errors (they quote only the request)."""
    code = (error.extensions or {}).get("code")
    if code in PUBLIC_CODES:
        return True
    original = error.original_error
    # Validation and syntax errors have no original error: they describe the document only.
    if original is None:
        return True
    # A variable's value that does not fit its type: graphql-core's own error about the
    # request (no field's path, nothing raised beneath it), quoting only the caller's input.
    return (
        error.path is None
        and isinstance(original, GraphQLError)
        and original.original_error is None
    )


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

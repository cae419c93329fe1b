"""How domain errors reach clients: top-level GraphQL errors or `UserError` data."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError

from tidings.core.errors import ForbiddenError, UnauthenticatedError, UserInputError

T = TypeVar("T")

# Codes our own errors carry; anything else reaching a client is masked.
PUBLIC_CODES = frozenset(
    {"UNAUTHENTICATED", "FORBIDDEN", "QUERY_LIMIT", "BAD_USER_INPUT", "NOT_FOUND"}
)


def client_extensions(error: BaseException | None) -> dict[str, Any] | None:
    """The `extensions` a client gets for one of the domain's errors raised through a
    resolver (the domain knows nothing of GraphQL); None for any other exception."""
    if isinstance(error, UserInputError):
        return {"code": "BAD_USER_INPUT", "reason": error.code, "field": error.field}
    if isinstance(error, ForbiddenError):
        return {"code": "FORBIDDEN"}
    if isinstance(error, UnauthenticatedError):
        return {"code": "UNAUTHENTICATED"}
    return None


def adopt_client_extensions(errors: list[GraphQLError]) -> None:
    """Give each error raised from a domain error the extensions clients know it by."""
    for error in errors:
        extensions = client_extensions(error.original_error)
        if extensions is not None and not error.extensions:
            error.extensions = extensions


class ForbiddenGraphQLError(GraphQLError):
    def __init__(self, message: str = "You may not perform this operation.") -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class UnauthenticatedGraphQLError(GraphQLError):
    def __init__(
        self, message: str = "Authentication required: send a valid bearer token."
    ) -> None:
        super().__init__(message, extensions={"code": "UNAUTHENTICATED"})


class NotFoundGraphQLError(GraphQLError):
    """Where there is no `null` to return (a subscription): the same answer for an object
    that does not exist and one the caller may not see."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message, extensions={"code": "NOT_FOUND"})


# The description of every mutation payload's `errors`.
ERRORS = "What went wrong, if the caller can correct it; empty on success."


@strawberry.type(description="An expected failure the caller can correct; `code` is stable.")
class UserError:
    code: str = strawberry.field(
        description="Stable, for programs: NOT_FOUND, UNKNOWN_CATEGORY, INVALID_TIME, ..."
    )
    field: str | None = strawberry.field(
        description='The input field at fault, as the client named it (e.g. "expiresAt"); '
        "null when no one field is."
    )
    message: str = strawberry.field(description="For people; may change between versions.")

    @classmethod
    def from_error(cls, error: UserInputError) -> UserError:
        return cls(code=error.code, field=error.field, message=error.message)


def user_error(code: str, message: str, field: str | None = None) -> UserError:
    return UserError(code=code, field=field, message=message)


async def attempt(work: Awaitable[T]) -> tuple[T | None, list[UserError]]:
    """Await a service call from a mutation: user errors become payload data. A refused role
    (ForbiddenError) surfaces as a top-level FORBIDDEN (`client_extensions`)."""
    try:
        return await work, []
    except UserInputError as error:
        return None, [UserError.from_error(error)]

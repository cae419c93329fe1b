"""Domain errors. Expected, user-correctable failures carry a stable code and a field.

They are plain exceptions: how each reaches a GraphQL client (its `extensions`) is the schema
layer's business (`tidings.schema.errors.client_extensions`)."""

from __future__ import annotations


class TidingsError(Exception):
    """Base for every error the domain raises on purpose."""


class UserInputError(TidingsError):
    """Bad input the caller can correct: a `UserError` in a mutation payload, or, raised
    outside one (a bad cursor on a query, say), an error coded BAD_USER_INPUT."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class NotFoundError(UserInputError):
    """The object does not exist, or the caller may not see it: the two look the same."""

    def __init__(self, field: str | None = None, message: str = "Not found.") -> None:
        super().__init__("NOT_FOUND", message, field)


class ForbiddenError(TidingsError):
    """The caller's role may not perform this operation at all."""


class UnauthenticatedError(TidingsError):
    """The operation needs a valid token and got none, or a bad one."""


class TooManyAttemptsError(UserInputError):
    """A sign-in refused by the throttle, before its password was checked."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            "TOO_MANY_ATTEMPTS",
            f"Too many failed sign-ins: try again in {retry_after} seconds.",
        )
        self.retry_after = retry_after

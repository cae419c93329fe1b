"""Authentication: who is calling, from a bearer token (HTTP header or websocket payload)."""

from __future__ import annotations

from tidings.core.errors import UnauthenticatedError
from tidings.core.models import Customer, Staff
from tidings.core.services.api_keys import API_KEY_PREFIX, ApiKeyService
from tidings.core.tokens import InvalidTokenError, TokenKind, TokenSigner
from tidings.core.viewer import Viewer, ViewerKind


class Authenticator:
    """Turns an `Authorization` value into a `Viewer`. One method, like Starlette's backends."""

    def __init__(self, signer: TokenSigner, api_keys: ApiKeyService) -> None:
        self.signer = signer
        self.api_keys = api_keys

    async def authenticate(self, authorization: str | None) -> Viewer | None:
        """None when no credentials were given; `UnauthenticatedError` when they are bad."""
        if not authorization:
            return None
        scheme, _, credentials = authorization.strip().partition(" ")
        credentials = credentials.strip()
        if scheme.lower() != "bearer" or not credentials:
            raise UnauthenticatedError("expected 'Bearer <token>'")
        if credentials.startswith(API_KEY_PREFIX):
            key = await self.api_keys.authenticate(credentials)
            if key is None:
                raise UnauthenticatedError("invalid, revoked or expired API key")
            return Viewer(
                kind=ViewerKind.API_KEY,
                id=key.id,
                role=key.role,
                expires_at=int(key.expires_at.timestamp()) if key.expires_at else None,
                scopes=frozenset(key.scopes) if key.scopes is not None else None,
            )
        try:
            claims = self.signer.verify(credentials)
        except InvalidTokenError:
            raise UnauthenticatedError("invalid or expired token") from None
        if claims.kind is TokenKind.STAFF:
            staff = await Staff.filter(id=claims.subject, active=True).first()
            if staff is None or staff.token_version != claims.version:
                raise UnauthenticatedError("token revoked")
            return Viewer(
                kind=ViewerKind.STAFF,
                id=staff.id,
                role=staff.role,
                token_version=claims.version,
                expires_at=claims.expires_at,
            )
        found = await Customer.filter(id=claims.subject).values_list("token_version", "disabled_at")
        if not found or found[0][0] != claims.version:
            raise UnauthenticatedError("token revoked")
        if found[0][1] is not None:
            raise UnauthenticatedError("account disabled")
        return Viewer(
            kind=ViewerKind.CUSTOMER,
            id=claims.subject,
            token_version=claims.version,
            expires_at=claims.expires_at,
        )

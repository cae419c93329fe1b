"""The GraphQL view: builds each operation's context from the request's credentials."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from cross_web import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from tidings.api.auth import Authenticator
from tidings.api.shutdown import GoingAway
from tidings.api.websocket import LiveSocketHandler
from tidings.core.audit.context import bind_actor
from tidings.core.errors import UnauthenticatedError
from tidings.core.live.runtime import LiveRuntime
from tidings.core.live.socket_cap import LocalSocketCap, SocketCap
from tidings.core.services import Services
from tidings.core.tokens import TokenSigner
from tidings.schema import TidingsSchema
from tidings.schema.context import Context

CONNECTION_INIT_TIMEOUT = timedelta(seconds=10)
logger = logging.getLogger("tidings.http")
# The `extensions.code` of a request refused before it reaches the schema.
HTTP_CODES = {400: "BAD_REQUEST", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}


class TidingsGraphQL(GraphQL):
    """Strawberry's ASGI view with our context, `graphql-transport-ws` only, no GET queries."""

    graphql_transport_ws_handler_class = LiveSocketHandler

    def __init__(
        self,
        schema: TidingsSchema,
        *,
        services: Services,
        signer: TokenSigner,
        authenticator: Authenticator,
        channels: dict[str, list[str]],
        max_page_size: int,
        graphiql: bool,
        allowed_origins: tuple[str, ...],
        live: LiveRuntime,
        max_subscriptions: int = 10,
        max_sockets_per_customer: int = 10,
        sockets: SocketCap | None = None,
        wake_worker: Callable[[], None] | None = None,
        going_away: GoingAway | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql" if graphiql else None,
            # Queries in URLs end up in access logs: POST only (GET serves GraphiQL alone).
            allow_queries_via_get=False,
            subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
            max_subscriptions_per_connection=max_subscriptions,
            # Browsers skip CORS on websockets: the Origin check stops cross-site hijacking.
            allowed_origins=allowed_origins,
            # An app sends connection_init at once; a socket that does not is closed (4408).
            connection_init_wait_timeout=CONNECTION_INIT_TIMEOUT,
        )
        self.services = services
        self.signer = signer
        self.authenticator = authenticator
        self.channels = channels
        self.max_page_size = max_page_size
        self.wake_worker = wake_worker
        self.live = live
        # Per process unless the app gives one that counts across processes (Redis).
        self.sockets = sockets or LocalSocketCap(max_sockets_per_customer)
        self.going_away = going_away or GoingAway()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ClientDisconnect:
            # No one is left to answer; a traceback per hang-up would let anyone flood the log.
            logger.debug("client disconnected before sending its whole request body")

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Strawberry answers a request it cannot read in plain text: answer in JSON, with an
        `errors` list like any GraphQL response, so clients parse one shape."""
        try:
            if isinstance(request, WebSocket):  # open for the socket's life; 1001 on shutdown
                self.going_away.hold(request)
                try:
                    return await super().run(request, context, root_value)
                finally:
                    self.going_away.let_go(request)
            return await super().run(request, context, root_value)
        except HTTPException as error:
            if isinstance(request, WebSocket):
                raise
            return http_error(error)

    def parse_json(self, data: str | bytes) -> Any:
        # Strawberry turns only JSONDecodeError into a 400; bytes that are not UTF-8 and
        # nesting deeper than the recursion limit raised out of it as a 500, and so did a
        # body that is not an object (`null`, `5`, `"str"`, `true`).
        try:
            parsed = json.loads(data)
        except (ValueError, RecursionError):
            raise HTTPException(400, "Unable to parse request body as JSON") from None
        if not isinstance(parsed, dict | list):  # a list is a batch, refused by strawberry
            raise HTTPException(400, "The request body must be a JSON object.")
        return parsed

    async def get_context(self, request: Request | WebSocket, response: Any) -> Context:
        context = Context(
            services=self.services,
            signer=self.signer,
            channels=self.channels,
            max_page_size=self.max_page_size,
            request=request,
            response=response,
            extra={"wake_worker": self.wake_worker},
        )
        if isinstance(request, WebSocket):
            context.live = self.live
            return context  # the caller comes in connection_init (on_ws_connect)
        try:
            viewer = await self.authenticator.authenticate(request.headers.get("authorization"))
        except UnauthenticatedError:
            return context  # anonymous: operations that need a caller refuse it
        if viewer is not None:
            await viewer.access()  # an agent's grants, once, for the synchronous field checks
            bind_actor(viewer.ref)  # the request's audit entries name the caller from here on
        context.raw_viewer = viewer
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate the socket from `{"authorization": "Bearer <token>"}`; 4403 if not."""
        params = context.connection_params or {}
        # Read once: the payload (the token) need not stay in memory for the socket's life.
        context.connection_params = None
        authorization = params.get("authorization") or params.get("Authorization")
        if not isinstance(authorization, str):
            raise ConnectionRejectionError({"message": "Send a bearer token in connection_init."})
        try:
            viewer = await self.authenticator.authenticate(authorization)
        except UnauthenticatedError:
            viewer = None
        if viewer is None:
            raise ConnectionRejectionError({"message": "Invalid, expired or revoked token."})
        if viewer.is_customer:
            # TooManySockets: the handler closes with 4429.
            context.extra["release"] = await self.sockets.acquire(viewer.id)
        bind_actor(viewer.ref)
        context.raw_viewer = viewer
        return UNSET


def http_error(error: HTTPException) -> Response:
    code = HTTP_CODES.get(error.status_code)
    body = {"message": error.reason, **({"extensions": {"code": code}} if code else {})}
    return JSONResponse({"errors": [body]}, status_code=error.status_code)

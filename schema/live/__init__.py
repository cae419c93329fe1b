"""Live GraphQL: subscriptions over `graphql-transport-ws`."""

from tidings.schema.live.subscriptions import Subscription

__all__ = ["Subscription"]

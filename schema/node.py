"""The Relay `Node` interface: every object a client may refetch by its global ID."""

import strawberry


@strawberry.interface(
    description="An object with a global ID, which `node(id:)` refetches under the caller's usual "
    "visibility."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="The global ID: opaque, stable, and accepted wherever an ID argument names "
        "an object of this type, and by `node(id:)`."
    )

"""The Relay `Node` interface."""

import strawberry


@strawberry.interface(description="An object with a global ID.")
class Node:
    id: strawberry.ID

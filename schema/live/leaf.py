"""A faster road for the commonest subscriptions: a selection of plain fields of one object.

`subscription { notifications { id title body createdAt } }` asks for leaf fields of a type
with no field gates. For such a document the subscription renders each event's payload
itself, exactly as GraphQL execution would, and sends it: no execution, no result pipeline
per subscriber. Anything else (fragments, directives, arguments, nested objects, fields
with gates) takes the ordinary road. `tests/live/test_leaf_frames.py` holds the two roads
to the same bytes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from strawberry.types.nodes import SelectedField

from tidings.schema.context import Info
from tidings.schema.inbox.types import notification_id

Getter = Callable[[dict[str, Any]], Any]

# Each field a client may select, as a function of the event's data (JSON values already:
# datetimes are the ISO strings the DateTime scalar would print).
NOTIFICATION_FIELDS: Mapping[str, Getter] = {
    "__typename": lambda d: "Notification",
    "id": lambda d: notification_id(d["id"]),
    "category": lambda d: d["category"],
    "title": lambda d: d["title"],
    "body": lambda d: d["body"],
    "data": lambda d: d.get("data"),
    "createdAt": lambda d: d["created_at"],
    "readAt": lambda d: d.get("read_at"),
}
INBOX_UPDATE_FIELDS: Mapping[str, Getter] = {
    "__typename": lambda d: "InboxUpdate",
    "unreadCount": lambda d: int(d["unread_count"]),
    "readIds": lambda d: [notification_id(i) for i in d.get("read_ids", ())],
    "archivedIds": lambda d: [notification_id(i) for i in d.get("archived_ids", ())],
}


class LeafRenderer:
    """Renders the `next` payload of one root field from an event's data. One per
    subscription, kept for its life: slotted, its fields a tuple."""

    __slots__ = ("fields", "root")

    def __init__(self, root: str, fields: Sequence[tuple[str, Getter]]) -> None:
        self.root = root
        self.fields = tuple(fields)

    def payload(self, data: dict[str, Any]) -> str:
        selected = {key: get(data) for key, get in self.fields}
        return json.dumps({"data": {self.root: selected}}, separators=(",", ":"))


def leaf_renderer(info: Info, fields: Mapping[str, Getter]) -> LeafRenderer | None:
    """The renderer for this operation, or None when its selection needs real execution."""
    (root,) = info.selected_fields
    # Info caches the converted selection, and the subscription's generator keeps its Info
    # for the socket's life: read once here, it need not stay (about 1.5 KB per socket).
    vars(info).pop("selected_fields", None)
    if root.directives or root.arguments:
        return None
    chosen: list[tuple[str, Getter]] = []
    for selection in root.selections:
        if not isinstance(selection, SelectedField):  # a fragment: the ordinary road
            return None
        if selection.directives or selection.arguments or selection.selections:
            return None
        get = fields.get(selection.name)
        if get is None:
            return None
        chosen.append((selection.alias or selection.name, get))
    return LeafRenderer(root.alias or root.name, chosen)

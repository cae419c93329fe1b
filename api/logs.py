"""Log output: the default text lines, or with TIDINGS_LOG_FORMAT=json one JSON object per
line on standard error, for a log pipeline: time, level, logger, message, the request id
(X-Request-ID, the same the audit log records) and any exception's text. uvicorn's access
log goes the same way, after RedactLinkTokens (api/app.py) has taken the tokens out of its
paths. What reaches a log is chosen where it is logged: no field here adds personal data."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from tidings.core.audit.context import current_request

ACCESS_LOGGER = "uvicorn.access"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        info = current_request()  # formatted in the task that logged, so its request's
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": info.request_id if info is not None else None,
        }
        if record.name == ACCESS_LOGGER and isinstance(record.args, tuple):
            entry.update(_access_fields(record.args))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _access_fields(args: tuple[Any, ...]) -> dict[str, Any]:
    """uvicorn's access record carries (client, method, path, HTTP version, status)."""
    if len(args) != 5:
        return {}
    _, method, path, _, status = args
    return {"method": method, "path": path, "status": status}


def configure_logging(log_format: str) -> None:
    """Give the root logger's handlers (`tidings` sets one up at start) the chosen format;
    with json, Python's warnings are logged too, so every line on standard error is one
    object."""
    if log_format != "json":
        return
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.INFO)
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
    logging.captureWarnings(True)


def uvicorn_log_config(log_format: str) -> dict[str, Any] | None:
    """uvicorn's own logging configuration for text; for json, none: its loggers then
    propagate to the root logger's JSON handler (`log_config=None`)."""
    if log_format == "json":
        return None
    from uvicorn.config import LOGGING_CONFIG

    return LOGGING_CONFIG

"""TIDINGS_LOG_FORMAT=json: the formatter's fields, in process (the real `serve` process's
output is checked in test_shutdown_serve.py)."""

from __future__ import annotations

import json
import logging

from tidings.api.app import RedactLinkTokens
from tidings.api.logs import JsonFormatter, configure_logging, uvicorn_log_config
from tidings.core.audit.context import RequestInfo, request_scope


def record(name: str, msg: str, args: tuple = (), exc_info=None) -> logging.LogRecord:
    return logging.LogRecord(name, logging.WARNING, __file__, 1, msg, args, exc_info)


def test_a_record_is_one_json_object_with_its_request_id():
    with request_scope(RequestInfo("req-123", "127.0.0.1")):
        line = JsonFormatter().format(record("tidings.delivery", "sent %d", (3,)))
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "tidings.delivery"
    assert entry["message"] == "sent 3"
    assert entry["request_id"] == "req-123"
    assert entry["time"].endswith("+00:00")
    assert "exception" not in entry


def test_outside_a_request_the_id_is_null():
    assert json.loads(JsonFormatter().format(record("tidings", "x")))["request_id"] is None


def test_an_exception_comes_with_its_text():
    try:
        raise ValueError("the provider said no")
    except ValueError:
        import sys

        line = JsonFormatter().format(record("tidings", "failed", exc_info=sys.exc_info()))
    entry = json.loads(line)
    assert "Traceback" in entry["exception"]
    assert "ValueError: the provider said no" in entry["exception"]


def test_an_access_record_keeps_its_redaction_and_gains_fields():
    access = record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/preferences/secret-token-123", "1.1", 200),
    )
    RedactLinkTokens().filter(access)
    entry = json.loads(JsonFormatter().format(access))
    assert entry["path"] == "/preferences/<token>"
    assert entry["method"] == "GET" and entry["status"] == 200
    assert "secret-token-123" not in json.dumps(entry)


def test_configure_logging_sets_the_root_handlers_format_only_for_json():
    root = logging.getLogger()
    handler = logging.StreamHandler()
    root.addHandler(handler)
    try:
        configure_logging("text")
        assert not isinstance(handler.formatter, JsonFormatter)
        configure_logging("json")
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        root.removeHandler(handler)
        logging.captureWarnings(False)
    assert uvicorn_log_config("json") is None
    assert uvicorn_log_config("text") is not None

"""Stats fixtures: a real local SMTP server for the mail the stats count."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.providers.peers import SmtpSink, start_smtp


@pytest.fixture
def smtp() -> Iterator[Any]:
    sink = SmtpSink()
    controller = start_smtp(sink)
    sink.controller = controller  # type: ignore[attr-defined]
    yield sink
    controller.stop()

"""The delivery tests' real SMTP server, for the metrics' figures."""

from tests.delivery.conftest import smtp  # noqa: F401 (a fixture used here)

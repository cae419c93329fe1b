"""Fixtures of the delivery tests, for the metrics' figures: the real SMTP server, and the app
that takes bounces."""

from tests.delivery.conftest import smtp  # noqa: F401 (a fixture used here)
from tests.delivery.test_email_feedback import bounce_api  # noqa: F401 (a fixture used here)

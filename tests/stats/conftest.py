"""Stats fixtures: the app wired to a real local SMTP server, as in tests/delivery."""

from tests.delivery.conftest import mail_api, smtp  # noqa: F401 (fixtures used here)

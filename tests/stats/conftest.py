"""Stats fixtures: the app wired to a real local SMTP server (as in tests/delivery) or to the
local SMS API peer (as in tests/providers)."""

from tests.delivery.conftest import mail_api, smtp  # noqa: F401 (fixtures used here)
from tests.providers.test_sms_feedback import sms_app, sms_peer  # noqa: F401 (fixtures)

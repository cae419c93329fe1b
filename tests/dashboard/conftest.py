"""The dashboard's tests use the page tests' browser and served app (tests/pages/conftest.py)."""

from tests.pages.conftest import browser, served  # noqa: F401

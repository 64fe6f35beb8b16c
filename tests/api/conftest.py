"""Fixtures of the console tests (shared with tests/api and tests/e2e)."""

from tests.operator.console import console, fast_password_hashes, make_client  # noqa: F401

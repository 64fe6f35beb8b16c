"""Every test here signs people in: Argon2 at its lowest cost (the fixtures are in tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _cheap_password_hashes(fast_password_hashes: None) -> None:
    """Autouse wrapper: `fast_password_hashes` for every test in this folder."""

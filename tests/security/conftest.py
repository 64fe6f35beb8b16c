"""Fixtures the security suite shares with the admin tests: `ivr` runs the console script in-process."""

from tests.admin.conftest import ivr

__all__ = ["ivr"]

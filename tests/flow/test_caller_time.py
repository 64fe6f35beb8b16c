"""The shipped flow keeps callers' time to the beep under the issue 11 targets, walked through the real webhooks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bench.caller_time import TARGETS, measure
from ivr.settings import Settings

pytestmark = pytest.mark.skipif(
    __import__("shutil").which("espeak-ng") is None, reason="Russian and English are timed with espeak-ng"
)


def test_every_language_reaches_the_beep_within_the_targets(make_settings: Callable[..., Settings]) -> None:
    timings = measure(make_settings())

    by = {(t.language, t.strategy): t for t in timings}
    for language in ("kk", "ru", "en"):
        assert by[language, "listen"].seconds <= TARGETS["listen"], by[language, "listen"]
        assert by[language, "press"].seconds <= TARGETS["press"], by[language, "press"]
        assert by[language, "silent"].seconds <= TARGETS["silent"], by[language, "silent"]
        urgent_at = by[language, "listen"].urgent_at
        assert urgent_at is not None and urgent_at <= TARGETS["urgent"], (language, urgent_at)
    assert by["ru", "silent from the start"].seconds <= TARGETS["silent"]

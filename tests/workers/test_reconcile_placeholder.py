"""A local line's made-up Twilio account is never reconciled against Twilio (issue 18)."""

from __future__ import annotations

import logging
import time

from ivr.logging import configure_logging
from ivr.settings import PLACEHOLDER_ACCOUNT_SID
from tests.workers.test_jobs_support import use_settings
from workers.deps import WorkerDeps
from workers.reconcile import reconcile


def test_reconcile_is_skipped_with_one_line_for_placeholder_credentials(deps: WorkerDeps, caplog) -> None:
    # Pointed at the real Twilio, as `ivr up` is: today it retried for the whole download budget.
    use_settings(deps, twilio_account_sid=PLACEHOLDER_ACCOUNT_SID, twilio_api_base="https://api.twilio.com",
                 download_budget_s=5.0)
    configure_logging(deps.settings)  # what `ivr worker` does first
    caplog.set_level(logging.INFO)
    started = time.monotonic()
    report = reconcile()
    assert time.monotonic() - started < 1.0
    assert "placeholder" in report.skipped and report.listed == 0
    lines = [r.getMessage() for r in caplog.records if "reconcile" in r.getMessage()]
    assert len(lines) == 1 and "reconcile.skipped" in lines[0], [r.getMessage() for r in caplog.records]

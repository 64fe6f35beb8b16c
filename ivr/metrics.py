"""Prometheus metrics of the line. Under gunicorn set PROMETHEUS_MULTIPROC_DIR (`ivr up` does)."""

from __future__ import annotations

import functools
import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import REGISTRY, GaugeMetricFamily

CALLS = Counter("ivr_calls_total", "Calls answered by the line.", ["flow"])
NODE_ANSWERS = Counter(
    "ivr_node_answers_total",
    "Steps per menu node: entered (prompted), left (moved on), retried.",
    ["node", "outcome"],
)


@functools.lru_cache(maxsize=4096)  # node names come from the flows: a bounded set
def node_answers(node: str, outcome: str) -> Counter:
    """NODE_ANSWERS for one node and outcome, looked up once (labels() locks and builds a key)."""
    return NODE_ANSWERS.labels(node, outcome)


WEBHOOK_SECONDS = Histogram(
    "ivr_webhook_seconds",
    "Time to answer a Twilio webhook.",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
WEBHOOK_REJECTED = Counter("ivr_webhook_rejected_total", "Webhooks refused (bad signature).", ["endpoint"])
INTAKES_RECORDED = Counter("ivr_intakes_recorded_total", "Recordings written to the outbox.")
ENQUEUE_FAILED = Counter("ivr_enqueue_failed_total", "Enqueues refused by Redis (left pending).")
FLOW_RELOAD_ERRORS = Counter("ivr_flow_reload_errors_total", "Flow edits refused as invalid.")
# Guessing: a steady rise means someone is trying references and PINs (alert: README, Security).
FOLLOWUP_PIN_FAILURES = Counter("ivr_followup_pin_failures_total", "Follow-up PIN checks that failed (any reason).")
FOLLOWUP_PIN_CAP_REFUSALS = Counter(
    "ivr_followup_pin_cap_refusals_total", "Follow-up PIN checks refused because the line-wide hourly cap was reached."
)


class StateCollector:
    """Gauges read at scrape time: intakes pending, queue depth, flow health."""

    def __init__(self, read: object) -> None:
        self._read = read

    def collect(self):  # type: ignore[no-untyped-def]
        """Yield the current values (never raises: a scrape must not fail on a down Redis)."""
        values = self._read()  # type: ignore[operator]
        for name, (help_text, value) in values.items():
            family = GaugeMetricFamily(name, help_text)
            family.add_metric([], value)
            yield family


def render_metrics(extra: StateCollector | None = None) -> tuple[bytes, str]:
    """The metrics page body and content type, merged across gunicorn workers when configured."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call,unused-ignore]
    else:
        registry = REGISTRY
    body = generate_latest(registry)
    if extra is not None:
        scratch = CollectorRegistry()
        scratch.register(extra)
        body += generate_latest(scratch)
    return body, CONTENT_TYPE_LATEST

"""Does a follow-up PIN check take as long for an unknown or locked reference as for a wrong PIN?

`python -m bench.pin_timing [--samples 60] [--database-url URL]`, from the repository root.

An attacker who could tell "no such reference" or "locked" from "wrong PIN" by the time the line
takes to answer would learn which references exist and when to stop. All three run the same
statements and one keyed Argon2 check (tests/security/test_pins_resist_guessing.py proves the
count); this measures the wall clock. Each sample is one `followup.verify_reference` call, the
whole lookup a webhook makes, against a migrated database (a SQLite file in a temp dir unless
--database-url names a PostgreSQL database, whose tables it then uses). The three kinds are
interleaved round-robin, so background load falls on each alike. Prints the medians and their
ratios to the wrong-PIN median; the figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.machine import cpu_model
from ivr.cases import followup
from ivr.cases.reference import PinHasher, damm_digit, new_pin
from ivr.db import make_engine, make_sessionmaker, utc_now
from ivr.migrations import upgrade
from ivr.models import Call

KINDS = ("unknown", "locked", "wrong")


def _reference() -> str:
    body = str(secrets.randbelow(9_000_000) + 1_000_000)
    return body + damm_digit(body)


def measure(database_url: str, samples: int) -> dict[str, list[float]]:
    """Seconds per check, `samples` of each kind."""
    data_keys = {"bench": secrets.token_bytes(32)}
    upgrade(database_url, data_keys=data_keys)
    engine = make_engine(database_url, data_keys=data_keys)
    sessions = make_sessionmaker(engine)
    pins = PinHasher(data_keys)
    # Never lock the "wrong" reference or reach the line cap: each sample must take its own path.
    limits = followup.GuessLimits(max_failures=10**9, lock_minutes=60, max_failures_per_hour=10**9)
    known, locked, unknown = _reference(), _reference(), _reference()
    pin = new_pin()
    with sessions.begin() as session:
        session.add(Call(call_sid="CA" + secrets.token_hex(16), flow_version="bench", reference=known,
                         pin_hash=pins.hash(pin)))
        session.add(Call(call_sid="CA" + secrets.token_hex(16), flow_version="bench", reference=locked,
                         pin_hash=pins.hash(pin), locked_until=utc_now() + timedelta(days=1)))
    wrong_pin = "0" * len(pin) if pin != "0" * len(pin) else "1" * len(pin)
    references = {"unknown": unknown, "locked": locked, "wrong": known}
    timings: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for round_number in range(samples + 3):  # the first 3 rounds warm caches and connections
        for kind in KINDS:
            started = time.perf_counter()
            done = followup.verify_reference(sessions, pins, references[kind], wrong_pin, limits=limits)
            elapsed = time.perf_counter() - started
            assert done.outcome == "wrong", (kind, done)
            if round_number >= 3:
                timings[kind].append(elapsed)
    engine.dispose()
    return timings


def main() -> None:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        timings = measure(url, args.samples)
    backend = url.split(":", 1)[0].split("+", 1)[0]
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; database: {backend}; {args.samples} samples each")
    wrong = statistics.median(timings["wrong"])
    print("| reference | median ms | p10 ms | p90 ms | median / wrong PIN |")
    print("|---|---:|---:|---:|---:|")
    for kind in KINDS:
        values = sorted(timings[kind])
        median = statistics.median(values)
        p10, p90 = values[len(values) // 10], values[(len(values) * 9) // 10]
        print(f"| {kind} | {median * 1000:.2f} | {p10 * 1000:.2f} | {p90 * 1000:.2f} | {median / wrong:.3f} |")


if __name__ == "__main__":
    main()

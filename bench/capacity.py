"""What the production layout sustains on this machine: `python -m bench.capacity [--write]`.

Runs bench.rehearsal's layout (two gunicorns behind HAProxy, Sentinel-managed Redis, PostgreSQL,
S3 on moto's server, the Twilio stand-in) twice:

1. **Calls**: intake workers only (no transcription). Report calls (language, anonymous,
   region, a 3 s recording, send, hang up: 10 signed webhooks each) are placed back to back by
   N simulated callers for a fixed time, N = 2, 4, 8, 16. Per step: completed calls per second,
   webhook p50/p99 as HAProxy's clients saw them, and how long the two workers took to turn the
   last report into a case after the last call ended (drain).
2. **Transcription**: one transcribing worker (`ivr worker --queue transcribe`,
   IVR_TRANSCRIBE_THREADS=1: one core) with the bundled model, fed 60 s reports of Russian
   espeak-ng speech at 8 kHz; after one warm-up report (model load), the time per report gives
   reports per hour per transcribing core.

Then 1424's load (about 20,000 appeals a year; 5–6 substantive reports a day) as a fraction of
both. `--write` puts the table between the capacity markers of bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select

from bench.rehearsal import REPORT_SCRIPT, Layout, Options, RehearsalError, place_call, wait_for
from ivr.models import Transcript
from tests.support.twilio_sim import Press, Silence, Talk

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
START_MARKER = "<!-- capacity:start -->"
END_MARKER = "<!-- capacity:end -->"
APPEALS_PER_YEAR = 20_000
SUBSTANTIVE_PER_DAY = 6
P99_BUDGET_MS = 1000.0  # Twilio waits 15 s; a caller notices a pause past about a second
RU_REPORT = (
    "Здравствуйте. Я хочу сообщить о взятке в районном земельном отделе. "
    "В прошлый вторник начальник отдела потребовал у меня пятьсот тысяч тенге за регистрацию дома. "
    "Он сказал, что без денег мои документы потеряются. "
    "Я отказался, и с тех пор мне никто не отвечает. "
)


def percentile(values: list[float], fraction: float) -> float:
    """The value at `fraction` of the sorted list (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def calls_step(layout: Layout, callers: int, seconds: float, first_number: int) -> dict[str, float]:
    """`callers` callers placing report calls back to back for `seconds`; figures of the step."""
    import threading

    outcomes: list = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds
    counter = iter(range(first_number, first_number + 1_000_000))

    def caller() -> None:
        while time.monotonic() < stop_at:
            with lock:
                number = next(counter)
            outcome = place_call(layout, number)
            with lock:
                outcomes.append(outcome)

    before = layout.tally()
    started = time.monotonic()
    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    failed = [outcome for outcome in outcomes if outcome.error]
    if failed:
        raise RehearsalError(f"{len(failed)} calls heard an error at {callers} callers: {failed[0].error}")
    expected = before.cases + len(outcomes)
    ended = time.monotonic()
    wait_for(lambda: layout.tally().done >= expected, 600, "the workers catching up", interval_s=0.1)
    drain_s = time.monotonic() - ended
    latencies = [latency * 1000 for outcome in outcomes for latency in outcome.latencies_s]
    return {
        "callers": callers,
        "calls": len(outcomes),
        "calls_per_s": len(outcomes) / elapsed,
        "webhooks_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": percentile(latencies, 0.99),
        "drain_s": drain_s,
        # The workers' pace: every case of the step opened between its first call and the drain.
        "cases_per_s": len(outcomes) / (elapsed + drain_s),
    }


def speech_wav(seconds: int) -> bytes:
    """About `seconds` of Russian espeak-ng speech at 8 kHz (the report text, repeated)."""
    from bench.transcription import duration_s, speak

    text = RU_REPORT
    wav = speak(text, "ru")
    while duration_s(wav) < seconds:
        text += RU_REPORT
        wav = speak(text, "ru")
    return wav


def transcripts_done(layout: Layout) -> int:
    """Transcripts finished (done or failed)."""
    with layout.sessions() as session:
        return session.scalar(
            select(func.count()).select_from(Transcript).where(Transcript.status.in_(("done", "failed")))
        ) or 0


def transcription_step(layout: Layout, reports: int, audio: bytes, audio_s: float) -> dict[str, float]:
    """Seconds per report of one transcribing worker on one core, after a warm-up report."""
    script = (Press("2"), Press("1"), Press("02"), Silence(), Talk(int(audio_s) + 1, audio=audio), Press("3"),
              Silence())
    warm_up = place_call(layout, 900_000, script)
    if warm_up.error:
        raise RehearsalError(f"the warm-up call failed: {warm_up.error}")
    wait_for(lambda: transcripts_done(layout) >= 1, 600, "the warm-up transcript", interval_s=0.2)
    outcomes = [place_call(layout, 900_001 + n, script) for n in range(reports)]
    if any(outcome.error for outcome in outcomes):
        raise RehearsalError("a transcription call failed")
    started = time.monotonic()
    wait_for(lambda: transcripts_done(layout) >= 1 + reports, 1800, "the transcripts", interval_s=0.2)
    per_report_s = (time.monotonic() - started) / reports
    with layout.sessions() as session:
        statuses = list(session.scalars(select(Transcript.status)))
    if statuses.count("done") != 1 + reports:
        raise RehearsalError(f"transcripts not all done: {statuses}")
    return {"reports": reports, "audio_s": audio_s, "per_report_s": per_report_s,
            "reports_per_hour_per_core": 3600 / per_report_s}


def machine() -> str:
    """CPU count and model, for the table."""
    model = platform.processor() or "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} CPUs ({model})"


def render(steps: list[dict[str, float]], transcription: dict[str, float], load_before: float) -> str:
    """The README block."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {now} with `python -m bench.capacity` on {machine()}, everything on the one machine "
        f"(load average {load_before:.2f} before; {os.getloadavg()[0]:.2f} after).",
        "",
        "| callers | calls | calls/s | webhooks/s | webhook p50 ms | webhook p99 ms | drain s | cases/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for step in steps:
        lines.append(
            f"| {step['callers']:.0f} | {step['calls']:.0f} | {step['calls_per_s']:.1f} | {step['webhooks_per_s']:.0f} "
            f"| {step['p50_ms']:.0f} | {step['p99_ms']:.0f} | {step['drain_s']:.1f} | {step['cases_per_s']:.2f} |"
        )
    within = [step for step in steps if step["p99_ms"] <= P99_BUDGET_MS]
    best = max(within, key=lambda step: step["calls_per_s"]) if within else None
    # Calls faster than the workers open cases only queue up (nothing is lost, cases come later):
    # what the layout sustains for hours is the smaller of the two paces.
    cases_per_s = max(step["cases_per_s"] for step in steps)
    per_hour = transcription["reports_per_hour_per_core"]
    year_s = 365 * 24 * 3600
    mean_calls_per_s = APPEALS_PER_YEAR / year_s
    busy_hour_calls = APPEALS_PER_YEAR / 365 * 0.15  # assume 15% of a day's calls in its busiest hour
    lines += [""]
    if best is not None:
        lines.append(
            f"**Answered**: {best['calls_per_s']:.1f} report calls per second ({best['webhooks_per_s']:.0f} "
            f"webhooks/s) with webhook p99 {best['p99_ms']:.0f} ms (budget {P99_BUDGET_MS:.0f} ms) at "
            f"{best['callers']:.0f} simultaneous callers. **Sustained** for hours: "
            f"{min(cases_per_s, best['calls_per_s']):.2f} "
            f"reports per second, the pace at which the two intake workers open cases ({cases_per_s:.2f}/s at "
            "best; a faster burst only queues, and the cases follow)."
        )
    lines += [
        "",
        f"**Transcription**: {per_hour:.0f} reports per hour per transcribing core "
        f"({transcription['audio_s']:.0f} s Russian reports, {transcription['per_report_s']:.1f} s each on one "
        f"thread of the bundled model, {transcription['reports']:.0f} reports after a warm-up).",
        "",
        f"**1424's load**: {APPEALS_PER_YEAR:,} appeals a year is {APPEALS_PER_YEAR / 365:.0f} calls a day, "
        f"{mean_calls_per_s:.5f} calls/s on average; a busy hour with 15% of a day's calls is "
        f"{busy_hour_calls:.1f} calls an hour.",
    ]
    if best is not None:
        lines.append(
            f"That is {mean_calls_per_s / min(cases_per_s, best['calls_per_s']):.1e} of the sustained rate on "
            f"average and {busy_hour_calls / 3600 / min(cases_per_s, best['calls_per_s']):.1e} in the busy hour."
        )
    lines.append(
        f"Transcribing every call ({APPEALS_PER_YEAR / 365:.0f} a day) takes "
        f"{APPEALS_PER_YEAR / 365 / 24 / per_hour:.2%} "
        f"of one core on average and {busy_hour_calls / per_hour:.1%} of it in the busy hour; the "
        f"{SUBSTANTIVE_PER_DAY} substantive reports a day are {SUBSTANTIVE_PER_DAY / 24 / per_hour:.3%} of it."
    )
    return "\n".join(lines)


def update_readme(block: str, path: Path = README) -> None:
    """Replace what is between the markers (add them at the end the first time)."""
    text = path.read_text()
    if START_MARKER not in text:
        text = text.rstrip("\n") + f"\n\n## Capacity of the production layout\n\n{START_MARKER}\n{END_MARKER}\n"
    head, rest = text.split(START_MARKER, 1)
    _, tail = rest.split(END_MARKER, 1)
    path.write_text(f"{head}{START_MARKER}\n{block}\n{END_MARKER}{tail}")


def main(argv: list[str] | None = None) -> int:
    """Measure, print, optionally write the README block."""
    parser = argparse.ArgumentParser(prog="python -m bench.capacity", description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", default="2,4,8,16", help="simultaneous callers per step")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each step")
    parser.add_argument("--reports", type=int, default=4, help="reports transcribed after the warm-up")
    parser.add_argument("--sqlite", action="store_true", help="a SQLite file instead of PostgreSQL")
    parser.add_argument("--write", action="store_true", help="write the figures into bench/README.md")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="ivr-capacity-"))
    try:
        steps = []
        with Layout(work / "calls", Options(postgres=not args.sqlite)) as layout:
            place_call(layout, 0, REPORT_SCRIPT)  # warm-up: every process has served once
            for number, callers in enumerate(int(value) for value in args.callers.split(",")):
                step = calls_step(layout, callers, args.seconds, first_number=(number + 1) * 100_000)
                steps.append(step)
                print(f"  {callers:3d} callers: {step['calls_per_s']:.1f} calls/s, p99 {step['p99_ms']:.0f} ms, "
                      f"drain {step['drain_s']:.1f} s", flush=True)
        audio = speech_wav(60)
        from bench.transcription import duration_s

        options = Options(webs=1, workers=1, postgres=not args.sqlite, transcriber="faster-whisper")
        with Layout(work / "transcription", options) as layout:
            layout.start_worker("transcribe")
            transcription = transcription_step(layout, args.reports, audio, duration_s(audio))
        print(f"  transcription: {transcription['per_report_s']:.1f} s per report", flush=True)
    except RehearsalError as error:
        print(f"capacity bench failed: {error}\nlogs: {work}", file=sys.stderr)
        return 1
    block = render(steps, transcription, load_before)
    shutil.rmtree(work, ignore_errors=True)
    print(block)
    if args.write:
        update_readme(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())

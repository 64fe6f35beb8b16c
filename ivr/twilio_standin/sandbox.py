"""Try the line without a phone: a call played against the real app on scratch storage of its own.

`Sandbox` runs the real app (`create_app`: webhooks, signature checks, sealed call state,
intake rows) on a SQLite file, a recordings folder and a queue name nobody else reads, all in a
temporary folder. So a simulated report never lands among the operators' real cases, and the flow
files, prompt audio and Redis are the configured ones. `ivr simulate` runs it in its own process;
/admin/simulate starts that process (`ivr.twilio_standin.isolated`), so a simulated call never
runs migrations, counts calls or opens a database inside the live web worker.

With `with_media`, the REST stand-in (`rest_api.FakeTwilioApi`) serves the recording the way
Twilio does (and accepts the workers' deletes), so `ivr simulate --worker` can run the worker
steps on the same call.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from pydantic import SecretStr
from redis.exceptions import RedisError

from ivr.app import create_app
from ivr.flow.catalog import Line
from ivr.flow.model import Flow
from ivr.migrations import upgrade
from ivr.settings import Settings
from ivr.twilio_standin.callers import (
    DEFAULT_FROM,
    Caller,
    Heard,
    ScriptedCaller,
    SimulatedCall,
    place_call,
    prompt_describer,
    wav_recording,
)
from ivr.twilio_standin.player import CallFailed, FlaskTransport, TwilioSimulator
from ivr.twilio_standin.rest_api import FakeTwilioApi

PLACEHOLDER_ACCOUNT_SID = "AC" + "51" * 16
PLACEHOLDER_PUBLIC_URL = "https://ivr.simulated.invalid"


def media_address(api_base: str) -> tuple[str, int] | None:
    """The loopback (host, port) of a configured `twilio_api_base`, if the stand-in can serve it."""
    parts = urlsplit(api_base)
    if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost") and parts.port:
        return "127.0.0.1", parts.port
    return None


@dataclass(frozen=True)
class CaseOutcome:
    """What the workers made of a simulated call's recordings."""

    case_id: int | None
    status: str | None
    transcript_status: str | None
    transcripts: tuple[str, ...]
    intake_statuses: tuple[str, ...]
    errors: tuple[str, ...] = ()
    deleted_at_twilio: tuple[str, ...] = ()


class Sandbox:
    """The real app on scratch storage, for simulated calls (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        flow_path: Path | None = None,
        with_media: bool = False,
        quiet: bool = False,
    ) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="ivr-simulate-"))
        token = settings.twilio_auth_token.get_secret_value() or secrets.token_hex(16)
        account_sid = settings.twilio_account_sid
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", account_sid or ""):
            account_sid = PLACEHOLDER_ACCOUNT_SID
        self.media: FakeTwilioApi | None = None
        api_base = settings.twilio_api_base
        try:
            if with_media:
                # Serve the recording where the settings say Twilio is, when that is this machine.
                host, port = media_address(api_base) or ("127.0.0.1", 0)
                self.media = FakeTwilioApi(account_sid, token).start(host, port)
                api_base = self.media.base_url
            overrides: dict[str, Any] = {
                "database_url": f"sqlite:///{self.folder / 'simulate.db'}",
                "recordings_dir": self.folder / "recordings",
                "queue_name": f"simulate-{secrets.token_hex(6)}",
                "transcribe_queue_name": f"simulate-transcribe-{secrets.token_hex(6)}",
                "twilio_account_sid": account_sid,
                "twilio_auth_token": SecretStr(token),
                "twilio_api_base": api_base,
                "public_base_url": settings.public_base_url or PLACEHOLDER_PUBLIC_URL,
                "verify_signatures": True,
                "urgent_webhook_url": "",  # a simulated urgent report must not page anybody
            }
            if flow_path is not None:
                overrides["flow_path"] = Path(flow_path)
            if quiet:
                overrides["log_level"] = "WARNING"
            self.settings = settings.model_copy(update=overrides)
            self._call_sids: list[str] = []
            upgrade(self.settings.database_url, data_keys=self.settings.data_keys)
            self.app = create_app(self.settings)
        except BaseException:
            self._remove()
            raise

    @property
    def flows(self) -> Any:
        """The app's flow catalog (every line)."""
        return self.app.extensions["ivr"].flows

    def line_for(self, to: str | None = None, line_name: str | None = None) -> tuple[Line, str]:
        """The line to call and the number to dial: by name, by number, or the default line."""
        config = self.flows.config
        if line_name:
            line = config.line_named(line_name)
            if line is None:
                names = ", ".join(x.name for x in config.lines)
                raise ValueError(f"no line {line_name!r}; lines: {names}")
            return line, to or (line.numbers[0] if line.numbers else "+70000000000")
        if to:
            return config.line_for(to), to
        line = config.default
        return line, line.numbers[0] if line.numbers else "+70000000000"

    def call(
        self,
        caller: Caller,
        *,
        to: str | None = None,
        line: str | None = None,
        from_: str = DEFAULT_FROM,
        on_heard: Callable[[Heard], None] | None = None,
    ) -> SimulatedCall:
        """One simulated call to a number (or line) of this line; returns its transcript and reference."""
        chosen, number = self.line_for(to, line)
        flow: Flow = self.flows.registry(chosen).current
        simulator = TwilioSimulator(
            FlaskTransport(self.app.test_client()),
            auth_token=self.settings.twilio_auth_token.get_secret_value(),
            public_base_url=self.settings.public_base_url,
            account_sid=self.settings.twilio_account_sid,
            api_base_url=self.media.base_url if self.media else self.settings.twilio_api_base,
            fake_api=self.media,
        )
        try:
            result = place_call(simulator, caller, to=number, from_=from_, describe_play=prompt_describer(
                flow, [self.flows.registry(other).current for other in self.flows.lines]),
                                on_heard=on_heard)
        finally:
            if simulator.last_result is not None:
                self._call_sids.append(simulator.last_result.call_sid)
        result.line, result.flow_version = chosen.name, flow.version
        result.reference = self.reference_of(result.call_sid)
        return result

    def reference_of(self, call_sid: str) -> str | None:
        """The case reference stored for a call (None if it never recorded)."""
        from sqlalchemy import select

        from ivr.models import Call

        with self.app.extensions["ivr"].sessions() as session:
            reference: str | None = session.scalar(select(Call.reference).where(Call.call_sid == call_sid))
            return reference

    def intake_ids(self, call_sid: str) -> list[int]:
        """The call's intake rows (one per recording kept)."""
        from sqlalchemy import select

        from ivr.models import Call, Intake

        with self.app.extensions["ivr"].sessions() as session:
            return list(session.scalars(select(Intake.id).join(Call).where(Call.call_sid == call_sid)
                                        .order_by(Intake.id)))

    def process(self, call: SimulatedCall, process_intake: Callable[[int], None]) -> CaseOutcome:
        """Run the worker's `process_intake` on each of the call's intakes; report the case it made.

        The caller passes the job function (imported by name), so `ivr` never imports `workers`.
        """
        from sqlalchemy import select

        from ivr.models import Call, Case, Intake, Transcript

        errors = []
        for intake_id in self.intake_ids(call.call_sid):
            try:
                process_intake(intake_id)
            except Exception as exc:  # shown to the admin; the intake row records it too
                errors.append(f"intake {intake_id}: {type(exc).__name__}: {exc}")
        with self.app.extensions["ivr"].sessions() as session:
            row = session.scalars(select(Call).where(Call.call_sid == call.call_sid)).first()
            if row is None:
                return CaseOutcome(None, None, None, (), (), tuple(errors))
            case = session.scalars(select(Case).where(Case.call_id == row.id)).first()
            intakes = list(session.scalars(select(Intake).where(Intake.call_id == row.id).order_by(Intake.id)))
            texts = [t.text or "" for t in session.scalars(
                select(Transcript).join(Intake).where(Intake.call_id == row.id).order_by(Intake.id))]
        return CaseOutcome(
            case_id=case.id if case else None,
            status=case.status if case else None,
            transcript_status=case.transcript_status if case else None,
            transcripts=tuple(texts),
            intake_statuses=tuple(i.status for i in intakes),
            errors=tuple(errors),
            deleted_at_twilio=tuple(self.media.deleted()) if self.media else (),
        )

    def close(self) -> None:
        """Stop the stand-in, drop the scratch queue from Redis, remove the scratch folder."""
        services = self.app.extensions["ivr"]
        services.tracker.close()  # send its last notes now, so the delete below catches them
        try:
            _drop_queue(services.queue)
            # The line's drop-off tracker keeps each call's last node in Redis for a few hours.
            if self._call_sids:
                services.redis.delete(*(f"ivr:call:{sid}" for sid in self._call_sids))
        except RedisError:
            pass  # Redis is down: nothing of ours reached it either
        finally:
            services.close()
            if self.media is not None:
                self.media.stop()
            self._remove()

    def _remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _drop_queue(queue: Any) -> None:
    """Remove the scratch queue and any job on it or in its registries (best effort: Redis may be down)."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    try:
        registries = (queue.scheduled_job_registry, queue.deferred_job_registry, queue.failed_job_registry,
                      queue.finished_job_registry, queue.started_job_registry)
        for registry in registries:
            for job_id in registry.get_job_ids():
                try:
                    Job.fetch(job_id, connection=queue.connection).delete()
                except NoSuchJobError:
                    registry.remove(job_id)
        queue.delete(delete_jobs=True)
    except OSError:
        pass  # nothing reached Redis either, or it is down: nothing to clean


# --------------------------------------------------------------------------- in a process of its own


def main() -> int:
    """`python -m ivr.twilio_standin.sandbox`: one scripted call; request and answer are JSON (stdin, stdout).

    The request holds `settings` (`settings_document`), `line`, `keys` and an optional `recording`
    (base64 WAV) with its `recording_name`. The answer is `{"call": ...}` or `{"error": ...}`.
    """
    from ivr.flow.problems import FlowError

    answer_to = sys.stdout
    sys.stdout = sys.stderr  # nothing but the answer on stdout
    request = json.load(sys.stdin)
    settings = Settings(_env_file=None, **request["settings"])
    recording = None
    answer: dict[str, Any]
    try:
        if request.get("recording"):
            recording = wav_recording(base64.b64decode(request["recording"]), request.get("recording_name") or "")
        with Sandbox(settings, quiet=True) as sandbox:
            call = sandbox.call(ScriptedCaller(request["keys"], recording), line=request["line"])
        answer = {"call": asdict(call)}
    except (CallFailed, FlowError, ValueError) as exc:
        answer = {"error": f"the call failed: {exc}"}
    json.dump(answer, answer_to)
    answer_to.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

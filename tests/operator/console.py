"""What the console tests share: people of each role, cases made as the worker makes them, signing in.

Helpers only; the fixtures built on them (`console`, `make_client`, `fast_password_hashes`) are in
tests/conftest.py. Cases are written by the
worker's own functions (`ivr.cases.opening.open_case`, the recording store, the voice disguise);
the browser test also runs the whole job chain on a call made through the real webhooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from ivr import accounts
from ivr.crypto import Cipher
from ivr.intake import CallFacts, ensure_call, record_intake
from ivr.models import Case, Intake, StoredRecording, Transcript
from tests.support.twilio_sim import make_wav, new_sid

PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SEGMENTS = [
    {"start_s": 0.0, "end_s": 1.2, "text": "Здравствуйте, хочу сообщить о взятке."},
    {"start_s": 1.2, "end_s": 2.4, "text": "В акимате требовали деньги за справку."},
    {"start_s": 2.4, "end_s": 3.0, "text": "Это было вчера."},
]


@dataclass
class CaseRef:
    """A case made for a test: its id, call and recordings."""

    id: int
    call_id: int
    call_sid: str
    intake_ids: list[int]
    audio: list[bytes] = field(default_factory=list)

    @property
    def intake_id(self) -> int:
        """The report's recording (the first one)."""
        return self.intake_ids[0]


class Console:
    """Builds people and cases in the app's database, and signs test clients in."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.svc = app.extensions["ivr"]

    # -- people

    def add_user(self, username: str, role: str = "operator", regions: list[str] | None = None, **kwargs: Any) -> int:
        """An account with the shared test password; returns its id."""
        if role == "operator" and regions is None:
            regions = ["02"]
        with self.svc.sessions.begin() as session:
            operator = accounts.create_operator(
                session, username=username, password=PASSWORD, role=role, regions=regions or [], **kwargs
            )
            return operator.id

    def token_for(self, username: str) -> str:
        """A fresh API token acting as this account."""
        with self.svc.sessions.begin() as session:
            return accounts.issue_token(session, accounts.get_operator(session, username), "test")

    # -- cases

    def add_case(
        self,
        *,
        region: str | None = "02",
        language: str | None = "ru",
        is_anonymous: bool = True,
        is_urgent: bool = False,
        contact: str | None = None,
        audio_s: int = 3,
        transcript: str | None = "done",
        followups: int = 0,
        created_at: datetime | None = None,
        disguise: bool = True,
    ) -> CaseRef:
        """A call, its recordings (stored encrypted), transcripts and case, as the worker leaves them."""
        from ivr.cases.opening import open_case
        from ivr.storage import make_recording_store
        from workers.audio import disguise_voice

        store = make_recording_store(self.svc.settings)
        call_sid = new_sid("CA")
        facts = CallFacts("public", "v1", language, is_anonymous, is_urgent, region, contact)
        audios = [make_wav(audio_s + i) for i in range(1 + followups)]
        with self.svc.sessions.begin() as session:
            call = ensure_call(session, call_sid, facts, Cipher(self.svc.settings.data_keys))
            call.status = "completed"
            call_id = call.id
            intake_ids = [
                record_intake(
                    session, call=call, recording_sid=new_sid("RE"), duration_s=audio_s + i, is_ready=True,
                    kind="report" if i == 0 else "followup",
                ).id
                for i in range(1 + followups)
            ]
        for intake_id, audio in zip(intake_ids, audios, strict=True):
            key = f"intake-{intake_id}/original.wav"
            put = store.put(key, audio)
            disguised_key = None
            if is_anonymous and disguise:
                disguised_key = f"intake-{intake_id}/disguised.wav"
                store.put(disguised_key, disguise_voice(audio))
            with self.svc.sessions.begin() as session:
                intake = session.get_one(Intake, intake_id)
                intake.status = "done"
                session.add(StoredRecording(
                    intake_id=intake_id, storage_key=key, disguised_key=disguised_key, key_id=put.key_id,
                    sha256=put.sha256_plain, size=put.size, duration_s=float(audio_s),
                ))
                row = None
                if transcript is not None:
                    row = Transcript(
                        intake_id=intake_id, status=transcript, language=language or "ru",
                        text=" ".join(s["text"] for s in SEGMENTS) if transcript == "done" else None,
                        segments=SEGMENTS if transcript == "done" else [], confidence=0.8,
                        engine="test", model="test", is_truncated=False, attempts=1,
                        error="TranscriptionFailed: test" if transcript == "failed" else None,
                    )
                    session.add(row)
                    session.flush()
                case = open_case(session, intake, row)
                if created_at is not None:
                    case.created_at = created_at
                case_id = case.id
        return CaseRef(case_id, call_id, call_sid, intake_ids, audios)

    def case(self, case_id: int) -> Case:
        """The case row as it is now."""
        with self.svc.sessions() as session:
            return session.get_one(Case, case_id)

    def audit(self, *, action: str | None = None, actor: str | None = None) -> list[Any]:
        """Audit events, oldest first."""
        from ivr.models import AuditEvent

        with self.svc.sessions() as session:
            query = select(AuditEvent).order_by(AuditEvent.id)
            if action:
                query = query.where(AuditEvent.action == action)
            if actor:
                query = query.where(AuditEvent.actor == actor)
            return list(session.scalars(query))


def csrf_token(client: FlaskClient, path: str = "/operator/login") -> str:
    """A CSRF token for this client's session, read from a page as a browser would."""
    page = client.get(path)
    found = CSRF.search(page.get_data(as_text=True))
    assert found, f"no CSRF token on {path} ({page.status_code})"
    return found.group(1)


def sign_in(client: FlaskClient, username: str, password: str = PASSWORD) -> Any:
    """Sign a test client in through the login form."""
    token = csrf_token(client)
    return client.post("/operator/login", data={"username": username, "password": password, "csrf_token": token})


def post_form(client: FlaskClient, path: str, data: dict[str, Any] | None = None, *, page: str = "/operator/") -> Any:
    """POST a console form with a valid CSRF token (taken from `page`)."""
    token = csrf_token(client, page)
    return client.post(path, data={**(data or {}), "csrf_token": token})


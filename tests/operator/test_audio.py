"""Recordings stream decrypted through the app with HTTP Range; anonymous voices stay disguised
unless a supervisor explicitly unlocks the original, and every fetch and every listen is audited."""

from __future__ import annotations

from tests.operator.console import Console, post_form


def test_named_recording_streams_whole_and_in_ranges(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case(is_anonymous=False, contact="77010000000")
    client = make_client("aigerim")
    whole = client.get(f"/operator/recordings/{ref.intake_id}/audio")
    assert whole.status_code == 200 and whole.data == ref.audio[0]
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.headers["Content-Type"] == "audio/wav"
    assert "no-store" in whole.headers["Cache-Control"]
    part = client.get(f"/operator/recordings/{ref.intake_id}/audio", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == ref.audio[0][100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(ref.audio[0])}"
    tail = client.get(f"/operator/recordings/{ref.intake_id}/audio", headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == ref.audio[0][-10:]
    beyond = client.get(f"/operator/recordings/{ref.intake_id}/audio",
                        headers={"Range": f"bytes={len(ref.audio[0]) + 5}-"})
    assert beyond.status_code == 416


def test_anonymous_recording_is_disguised_by_default(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case(is_anonymous=True)
    client = make_client("aigerim")
    served = client.get(f"/operator/recordings/{ref.intake_id}/audio")
    assert served.status_code == 200 and served.data[:4] == b"RIFF" and served.data != ref.audio[0]
    assert client.get(f"/operator/recordings/{ref.intake_id}/audio?v=original").status_code == 403


def test_missing_disguise_never_falls_back_to_the_original(console: Console, make_client) -> None:
    console.add_user("aigerim")
    ref = console.add_case(is_anonymous=True, disguise=False)
    client = make_client("aigerim")
    assert client.get(f"/operator/recordings/{ref.intake_id}/audio").status_code == 404
    assert "Версия с изменённым голосом ещё не готова" in client.get(f"/operator/cases/{ref.id}").get_data(as_text=True)


def test_supervisor_hears_the_original_only_after_an_audited_unlock(console: Console, make_client) -> None:
    supervisor = console.add_user("dana", role="supervisor")
    ref = console.add_case(is_anonymous=True)
    client = make_client("dana")
    url = f"/operator/recordings/{ref.intake_id}/audio?v=original"
    assert client.get(url).status_code == 403
    unlocked = post_form(client, f"/operator/recordings/{ref.intake_id}/original")
    assert unlocked.status_code == 302
    original = client.get(url)
    assert original.status_code == 200 and original.data == ref.audio[0]
    [event] = console.audit(action="recording.original_unlocked")
    assert event.actor == f"operator:{supervisor}" and event.intake_id == ref.intake_id
    fetches = console.audit(action="recording.fetched")
    assert [e.detail["version"] for e in fetches] == ["original"]
    assert post_form(client, f"/operator/recordings/{ref.intake_id}/played?v=original",
                     page=f"/operator/cases/{ref.id}").status_code == 204
    listens = console.audit(action="recording.listened")
    assert [e.detail["version"] for e in listens] == ["original"]
    assert make_client("dana").get(url).status_code == 403  # the unlock belongs to that session only


def test_fetching_and_listening_are_audited_once_per_person_recording_and_window(
    console: Console, make_client
) -> None:
    first = console.add_user("aigerim")
    second = console.add_user("aliya")
    ref = console.add_case()
    for username in ("aigerim", "aigerim", "aliya"):
        client = make_client(username)
        for start in (0, 1000, 5000):
            assert client.get(f"/operator/recordings/{ref.intake_id}/audio",
                              headers={"Range": f"bytes={start}-"}).status_code == 206
            assert post_form(client, f"/operator/recordings/{ref.intake_id}/played?v=disguised",
                             page=f"/operator/cases/{ref.id}").status_code == 204
    for action in ("recording.fetched", "recording.listened"):
        events = console.audit(action=action)
        assert [(e.actor, e.intake_id, e.detail["version"]) for e in events] == [
            (f"operator:{first}", ref.intake_id, "disguised"),
            (f"operator:{second}", ref.intake_id, "disguised"),
        ], action
        assert events[0].detail["case_id"] == ref.id and events[0].call_id == ref.call_id


def test_console_reads_the_store_the_workers_write(app) -> None:
    from ivr.audio_stream import recording_reader
    from ivr.storage.local import LocalRecordingStore

    with app.app_context():
        reader = recording_reader()
    assert isinstance(reader, LocalRecordingStore) and reader.root == app.extensions["ivr"].settings.recordings_dir

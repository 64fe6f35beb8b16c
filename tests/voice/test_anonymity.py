"""Anonymity is a guarantee: after a full anonymous call the number is nowhere we control."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import MetaData, select

from tests.support.twilio_sim import Press, Silence, Talk, TwilioSimulator

NUMBER = "+77019998877"
NAME = "Айгуль Сейткали"
# Every shape the number could take once code has touched it.
FORMS = ["77019998877", "7019998877", "87019998877", "701 999 88 77", "9998877", "Айгуль", "Сейткали"]


def everything_in_the_database(app) -> str:  # type: ignore[no-untyped-def]
    svc = app.extensions["ivr"]
    metadata = MetaData()
    metadata.reflect(svc.engine)
    dump = []
    with svc.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(select(table)):
                dump.append(repr(tuple(row)))
    return "\n".join(dump)


def everything_in_redis(app) -> str:  # type: ignore[no-untyped-def]
    redis = app.extensions["ivr"].redis
    dump = []
    for key in redis.keys("*"):
        kind = redis.type(key)
        if kind == b"string":
            dump.append(repr(redis.get(key)))
        elif kind == b"hash":
            dump.append(repr(redis.hgetall(key)))
        elif kind == b"list":
            dump.append(repr(redis.lrange(key, 0, -1)))
        elif kind == b"set":
            dump.append(repr(redis.smembers(key)))
        elif kind == b"zset":
            dump.append(repr(redis.zrange(key, 0, -1)))
        dump.append(repr(key))
    return "\n".join(dump)


def everything_on_disk(*roots: Path) -> bytes:
    data = b""
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                data += path.name.encode() + path.read_bytes()
    return data


def test_anonymous_call_stores_number_nowhere(app, twilio: TwilioSimulator, settings, caplog, capfd,
                                              tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    twilio.recording_callbacks = "twice"
    result = twilio.call([Press("2"), Press("1"), Speak_region(), Talk(30), Press("1"), Press("3"), Silence()],
                         from_=NUMBER, caller_name=NAME)
    assert result.ended_by == "hangup-verb"
    assert app.extensions["ivr"].queue.job_ids  # the report went on

    stores = {
        "database": everything_in_the_database(app),
        "redis": everything_in_redis(app),
        "logs": caplog.text + "".join(capfd.readouterr()),
        "urls": "\n".join(url for url, *_ in result.requests),
    }
    disk = everything_on_disk(tmp_path)
    for form in FORMS:
        for name, text in stores.items():
            assert form not in text, f"{form!r} found in {name}"
        assert form.encode() not in disk, f"{form!r} found on disk"


def Speak_region():  # type: ignore[no-untyped-def]
    from tests.support.twilio_sim import Speak

    return Speak("Астана")


def test_named_call_keeps_the_number_only_encrypted(app, twilio: TwilioSimulator, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    twilio.call([Press("2"), Press("2"), Press("1"), Press("01"), Talk(30), Press("3")], from_=NUMBER)

    assert "7019998877" not in everything_in_the_database(app)
    assert "7019998877" not in everything_in_redis(app)
    assert "7019998877" not in caplog.text

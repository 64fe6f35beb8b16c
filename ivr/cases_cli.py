"""`ivr cases reindex` and `ivr cases voice-messages`: one-off work on stored reports.

`reindex` rebuilds the search index of report text under the current data key: needed once after
migration 0010 (the migration cannot read the encrypted texts), and after a key rotation (`ivr
keys rotate` runs it itself). Safe to stop and run again; searches keep working meanwhile, since
they try every configured key.

`voice-messages` renders the unheard messages for reporters that are text in a language Twilio
has no voice for (Kazakh) to audio, as the console does for new ones: needed once after
migration 0011, which moved the old single message into the thread as text.
"""

from __future__ import annotations

import argparse
import json
import sys

from ivr.settings import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `cases reindex` to the `ivr` command."""
    cases = subparsers.add_parser("cases", help="reports: rebuild the search index, voice old messages")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    reindex = cases_sub.add_parser("reindex", help="rebuild the keyed search index of transcripts and notes")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")
    reindex.set_defaults(func=cmd_reindex)
    voice = cases_sub.add_parser("voice-messages",
                                 help="render unheard Kazakh (unvoiced) text messages for reporters to audio")
    voice.set_defaults(func=cmd_voice_messages)


def cmd_reindex(args: argparse.Namespace) -> int:
    """Rebuild every transcript's and note's search terms; prints what it did as JSON."""
    report = run_reindex(quiet=args.quiet)
    print(json.dumps(report.__dict__, ensure_ascii=False, indent=2))
    return 0


def run_reindex(*, quiet: bool = False) -> object:
    """Rebuild the index with the settings' database and keys (also called by `ivr keys rotate`)."""
    from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs shipped

    from ivr.cases.search_index import reindex, texts_to_index
    from ivr.db import engine_for, make_sessionmaker
    from ivr.logging import configure_logging

    settings = load_settings()
    configure_logging(settings)
    engine = engine_for(settings)
    try:
        sessions = make_sessionmaker(engine)
        with tqdm(total=texts_to_index(sessions), unit="text", file=sys.stderr, disable=quiet,
                  desc="search index") as bar:
            return reindex(sessions, progress=bar.update)
    finally:
        engine.dispose()


def cmd_voice_messages(args: argparse.Namespace) -> int:
    """Voice what the phone would otherwise read in another language's voice; prints counts as JSON."""
    from ivr import prompts
    from ivr.cases.thread import voice_unvoiced
    from ivr.db import engine_for, make_sessionmaker
    from ivr.flow.catalog import served_flows
    from ivr.flow.problems import FlowError
    from ivr.logging import configure_logging
    from ivr.storage import make_recording_store

    settings = load_settings()
    configure_logging(settings)
    try:
        flows = served_flows(settings.flow_path)
    except FlowError as exc:
        print(f"{exc}\nthe flow has errors: run `ivr flow check` for fixes", file=sys.stderr)
        return 1
    # A language counts as voiced only if every line's flow has a TTS voice for it.
    voiced = frozenset.intersection(*(flow.voiced_languages for flow in flows))
    engine = engine_for(settings)
    try:
        with make_sessionmaker(engine).begin() as session:
            report = voice_unvoiced(session, voiced_languages=voiced, store=make_recording_store(settings),
                                    speak=prompts.speak)
    finally:
        engine.dispose()
    print(json.dumps(report.__dict__, ensure_ascii=False))
    return 1 if report.failed else 0

"""`ivr cases reindex`: rebuild the search index of report text under the current data key.

Needed once after migration 0010 (the migration cannot read the encrypted texts), and after a key
rotation (`ivr keys rotate` runs it itself). Safe to stop and run again; searches keep working
meanwhile, since they try every configured key.
"""

from __future__ import annotations

import argparse
import json
import sys

from ivr.settings import load_settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `cases reindex` to the `ivr` command."""
    cases = subparsers.add_parser("cases", help="reports: rebuild the search index")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    reindex = cases_sub.add_parser("reindex", help="rebuild the keyed search index of transcripts and notes")
    reindex.add_argument("--quiet", action="store_true", help="no progress bar")
    reindex.set_defaults(func=cmd_reindex)


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

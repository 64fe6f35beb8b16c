"""`ivr keys new` (fresh keys as environment lines) and `ivr keys rotate` (re-encrypt to the current key)."""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import sys
from datetime import UTC, datetime

from ivr.settings import MIN_SECRET_BYTES, load_settings


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `keys new` and `keys rotate` to the `ivr` command."""
    keys = subparsers.add_parser("keys", help="make fresh keys; re-encrypt data to a new data key")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    new = keys_sub.add_parser("new", help="print fresh IVR_SECRET_KEY, IVR_DATA_KEY and IVR_DATA_KEY_ID lines")
    new.add_argument("--keep-old", action="store_true",
                     help="also print IVR_OLD_DATA_KEYS holding the keys configured now (for a rotation)")
    new.set_defaults(func=cmd_new)
    rotate = keys_sub.add_parser("rotate", help="re-encrypt recordings, contacts and texts to IVR_DATA_KEY_ID")
    rotate.add_argument("--quiet", action="store_true", help="no progress bar")
    rotate.set_defaults(func=cmd_rotate)


def new_key_id() -> str:
    """A key id that says when it was made and does not repeat (kept beside every item it encrypts)."""
    return f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"


def cmd_new(args: argparse.Namespace) -> int:
    """Print fresh keys; nothing is written anywhere."""
    lines = [
        "# Fresh keys from `ivr keys new`. Keep them out of the repository and out of logs; keep",
        "# IVR_DATA_KEY as long as anything it encrypted exists (a backup without it is unreadable).",
        f"IVR_SECRET_KEY={secrets.token_urlsafe(MIN_SECRET_BYTES + 16)}",
        f"IVR_DATA_KEY={base64.b64encode(secrets.token_bytes(32)).decode()}",
        f"IVR_DATA_KEY_ID={new_key_id()}",
    ]
    if args.keep_old:
        old = load_settings().data_keys
        lines.append("# Then restart every process and run `ivr keys rotate`; drop these once it reports nothing left.")
        pairs = (f"{kid}:{base64.b64encode(key).decode()}" for kid, key in old.items())
        lines.append("IVR_OLD_DATA_KEYS=" + ",".join(pairs))
    print("\n".join(lines))
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    """Re-encrypt everything to the current data key, with a progress bar; safe to rerun after a crash."""
    from tqdm import tqdm  # type: ignore[import-untyped]  # no stubs shipped

    from ivr.crypto import Cipher
    from ivr.db import make_engine, make_sessionmaker
    from ivr.logging import configure_logging
    from ivr.storage import make_recording_store
    from workers.rotate_keys import not_current, remaining, rotate

    settings = load_settings()
    configure_logging(settings)
    engine = make_engine(settings.database_url)
    sessions = make_sessionmaker(engine)
    cipher = Cipher(settings.data_keys)
    try:
        with tqdm(total=remaining(sessions, cipher.current_key_id), unit="item", file=sys.stderr,
                  disable=args.quiet, desc=f"to key {cipher.current_key_id}") as bar:
            report = rotate(sessions, make_recording_store(settings), cipher, progress=lambda _name: bar.update())
        left = not_current(sessions, cipher.current_key_id)
    finally:
        engine.dispose()
    # The search index is keyed with a key derived from the data key: rebuild it under the new one.
    from ivr.cases_cli import run_reindex

    print(json.dumps({"search_index": run_reindex(quiet=args.quiet).__dict__}, ensure_ascii=False), file=sys.stderr)
    print(json.dumps({**report.__dict__, "left": left}, ensure_ascii=False, indent=2))
    if report.problems or any(left.values()):
        return 1
    print(f"everything readable is under key {cipher.current_key_id}; once every process runs with it, "
          "IVR_OLD_DATA_KEYS may be emptied", file=sys.stderr)
    return 0

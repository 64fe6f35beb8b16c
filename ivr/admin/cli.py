"""`ivr flow ...` and `ivr prompts ...`: the admin's tools for the menu and its audio."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ivr.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the admin commands to the `ivr` command."""
    flow = sub.add_parser("flow", help="menu flows")
    flow_sub = flow.add_subparsers(dest="flow_command", required=True)
    check = flow_sub.add_parser("check", help="validate a flow file and its prompt audio")
    check.add_argument("file", nargs="?", type=Path)
    check.set_defaults(func=cmd_flow_check)

    prompts = sub.add_parser("prompts", help="prompt audio for languages Twilio cannot speak")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    render = prompts_sub.add_parser("render", help="render placeholder audio with espeak-ng")
    render.add_argument("--force", action="store_true", help="redo every file, studio recordings too")
    render.add_argument("--language", action="append", dest="languages")
    render.set_defaults(func=cmd_prompts_render)
    prompts_sub.add_parser("check", help="list missing or stale prompt audio").set_defaults(
        func=cmd_prompts_check
    )



def cmd_flow_check(args: argparse.Namespace) -> int:
    """Validate a flow; exit 1 on errors (warnings alone exit 0)."""
    from ivr.flow.schema import FlowError, load_flow

    settings = load_settings()
    path = args.file or settings.flow_path
    try:
        flow = load_flow(path, prompts_dir=settings.prompts_dir)
    except FlowError as exc:
        for problem in exc.problems:
            print(problem)
        print(f"{len(exc.problems)} error(s): {path} cannot serve calls", file=sys.stderr)
        return 1
    for warning in flow.warnings:
        print(warning)
    print(f"{path}: ok (version {flow.version}, {len(flow.doc.nodes)} nodes, {len(flow.warnings)} warning(s))")
    return 0


def cmd_prompts_render(args: argparse.Namespace) -> int:
    """Render placeholder prompt audio for audio-only languages."""
    from ivr.flow.schema import load_flow
    from ivr.prompts import render_prompts

    settings = load_settings()
    flow = load_flow(settings.flow_path)

    def progress(done: int, total: int, name: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<40}", end="", flush=True)

    report = render_prompts(flow, settings.prompts_dir, force=args.force, languages=args.languages, progress=progress)
    print(f"\n{report}")
    return 0


def cmd_prompts_check(args: argparse.Namespace) -> int:
    """List missing, stale or unplayable prompt audio; exit 1 if any is missing or broken."""
    from ivr.flow.schema import load_flow
    from ivr.prompts import check_prompts

    settings = load_settings()
    issues = check_prompts(load_flow(settings.flow_path), settings.prompts_dir)
    for issue in issues:
        print(issue)
    errors = [i for i in issues if i.severity == "error"]
    print(f"{len(errors)} error(s), {len(issues) - len(errors)} warning(s)")
    return 1 if errors else 0



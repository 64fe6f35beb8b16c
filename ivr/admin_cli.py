"""The admin's commands: `ivr flow check|show`, `ivr prompts render|check`, `ivr simulate`, `ivr twilio configure`.

Exit codes: 0 when all is well (warnings allowed), 1 when something needs fixing, 2 when the
command cannot run at all (bad settings or arguments).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ivr.settings import Settings, load_settings
from ivr.twilio_standin import DEMO_API_FILE


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the admin commands to the `ivr` command."""
    flow = sub.add_parser("flow", help="menu flows: check them, draw them")
    flow_sub = flow.add_subparsers(dest="flow_command", required=True)
    check = flow_sub.add_parser(
        "check", help="validate flow files, lines.yaml and prompt audio; exit 1 on errors",
        description="Checks a flow file (FILE, default IVR_FLOW_PATH) or a lines.yaml and every flow it names, "
                    "with their prompt audio. Every problem comes with file, line, node and a fix.",
    )
    check.add_argument("file", nargs="?", type=Path, help="a flow file or lines.yaml (default: IVR_FLOW_PATH)")
    check.add_argument("--json", action="store_true", help="one JSON document on stdout, for CI")
    check.add_argument("--strict", action="store_true", help="warnings fail the check too")
    check.add_argument("--no-audio", action="store_true", help="skip the prompt audio checks")
    check.add_argument("--prompts", type=Path, help="prompt audio folder (default: IVR_PROMPTS_DIR)")
    check.set_defaults(func=cmd_flow_check)

    show = flow_sub.add_parser("show", help="draw a flow as SVG or PNG (Graphviz), optionally with call figures")
    show.add_argument("file", nargs="?", type=Path, help="a flow file (default: the line's flow)")
    show.add_argument("--line", help="which line's flow (default: the default line)")
    show.add_argument("-o", "--output", help="file to write (default: <flow name>.<format>; - for stdout)")
    show.add_argument("--format", choices=("svg", "png", "dot"), default=None,
                      help="default: from the output file's extension, else svg")
    show.add_argument("--figures", action="store_true", help="draw how many calls reached and ended at each node")
    show.add_argument("--days", type=int, default=30, help="period of the figures (0: all time; default 30)")
    show.add_argument("--language", choices=("kk", "ru", "en"), help="language of the prompt snippets")
    show.set_defaults(func=cmd_flow_show)

    prompts = sub.add_parser("prompts", help="prompt audio for languages Twilio cannot speak")
    prompts_sub = prompts.add_subparsers(dest="prompts_command", required=True)
    render = prompts_sub.add_parser("render", help="render placeholder audio with espeak-ng (every line's flow)")
    render.add_argument("--force", action="store_true", help="redo every file, studio recordings too")
    render.add_argument("--language", action="append", dest="languages")
    render.set_defaults(func=cmd_prompts_render)
    prompts_sub.add_parser("check", help="list missing, stale or unplayable prompt audio").set_defaults(
        func=cmd_prompts_check
    )

    simulate = sub.add_parser(
        "simulate", help="a call in the terminal against the real app, no phone needed",
        description="Plays one call against the real app (signed webhooks, call state, intake) on scratch "
                    "storage, printing what the caller hears. Keys come from --keys or are asked for.",
    )
    simulate.add_argument("--keys", help="scripted input, one item per menu: e.g. 2,1,05 ('' is silence, "
                                         "say:Алматы is speech, hangup hangs up); without it you are asked")
    simulate.add_argument("--record", type=Path, help="WAV file the caller leaves as the report")
    simulate.add_argument("--to", help="the number dialled (picks the line; default: the default line's)")
    simulate.add_argument("--line", help="the line to call, by name (see config/lines.yaml)")
    simulate.add_argument("--from", dest="from_", default=None, help="the caller's number")
    simulate.add_argument("--flow", type=Path, help="try this flow file instead (e.g. a draft not yet live)")
    simulate.add_argument("--worker", action="store_true",
                          help="then run the worker steps: download, store, case, transcript")
    simulate.add_argument("--into", metavar="URL",
                          help="call the running line at URL (e.g. http://127.0.0.1:5000, started with `ivr up "
                               "--demo`) instead of scratch storage: the case appears in the console")
    simulate.add_argument("--twilio-api", metavar="URL",
                          help="with --into: the Twilio stand-in the line fetches recordings from "
                               f"(default: the one `ivr up --demo` wrote to {DEMO_API_FILE})")
    simulate.set_defaults(func=cmd_simulate)

    twilio = sub.add_parser("twilio", help="Twilio number set-up")
    twilio_sub = twilio.add_subparsers(dest="twilio_command", required=True)
    configure = twilio_sub.add_parser(
        "configure", help="point numbers at this line: voice, fallback and status URLs (POST)",
    )
    configure.add_argument("--number", action="append", default=[], help="E.164 number, e.g. +77172141424")
    configure.add_argument("--all-lines", action="store_true", help="every number in lines.yaml")
    configure.add_argument("--base-url", help="public base URL (default: IVR_PUBLIC_BASE_URL)")
    configure.add_argument("--fallback-base-url", metavar="URL",
                           help="base URL of the fallback host (default: the same as --base-url; better another "
                                "host, which does not fail with this one)")
    configure.add_argument("--dry-run", action="store_true", help="show what would change, change nothing")
    configure.set_defaults(func=cmd_twilio_configure)


# --------------------------------------------------------------------------- ivr flow check


def cmd_flow_check(args: argparse.Namespace) -> int:
    """Validate flows, lines and prompt audio; exit 1 on errors (or warnings with --strict)."""
    from ivr.flow_checks import check_config

    settings = load_settings()
    path = args.file or settings.flow_path
    prompts_dir = args.prompts or settings.prompts_dir
    report = check_config(path, prompts_dir, check_audio=not args.no_audio)
    failed = bool(report.errors) or (args.strict and bool(report.warnings))
    if args.json:
        print(json.dumps({**report.to_json(), "ok": not failed}, ensure_ascii=False, indent=2))
        return 1 if failed else 0
    for finding in report.findings:
        print(finding)
    files = ", ".join(report.files) or str(path)
    counts = f"{len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    if report.errors:
        print(f"{counts} in {files}: fix the errors; the running line keeps its last good version meanwhile",
              file=sys.stderr)
    elif failed:
        print(f"{counts} in {files}: warnings fail with --strict", file=sys.stderr)
    else:
        served = "; ".join(f"line {name}: {flow.path} version {flow.version}, {len(flow.doc.nodes)} nodes"
                           for name, flow in report.flows.items())
        print(f"ok, {counts} — {served}")
    return 1 if failed else 0


# --------------------------------------------------------------------------- ivr flow show


def _flow_to_show(settings: Settings, file: Path | None, line_name: str | None) -> Any:
    from ivr.flow.catalog import lines_path_for, load_lines
    from ivr.flow.loading import load_flow

    path = file or settings.flow_path
    lines_path = lines_path_for(path)
    if lines_path is None:
        return load_flow(path)
    config = load_lines(lines_path)
    if file is not None and file.name != lines_path.name and not line_name:
        return load_flow(file)
    line = config.line_named(line_name) if line_name else config.default
    if line is None:
        raise SystemExit(f"no line {line_name!r} in {lines_path}; lines: {', '.join(x.name for x in config.lines)}")
    return load_flow(line.flow_path)


def cmd_flow_show(args: argparse.Namespace) -> int:
    """Draw a flow: SVG/PNG through Graphviz `dot` (SVG also without it), with call figures on request."""
    from ivr.flow.diagram import DiagramError, render
    from ivr.flow.problems import FlowError

    settings = load_settings()
    try:
        flow = _flow_to_show(settings, args.file, args.line)
    except FlowError as exc:
        print(f"{exc}\nthe flow has errors: run `ivr flow check` for fixes", file=sys.stderr)
        return 1
    output = args.output
    image_format = args.format or (Path(output).suffix.lstrip(".") if output and output != "-" else "svg")
    if image_format not in ("svg", "png", "dot"):
        print(f"cannot draw {image_format!r}: use svg, png or dot", file=sys.stderr)
        return 2
    figures = None
    if args.figures:
        from ivr.db import make_engine, make_sessionmaker
        from ivr.flow_figures import flow_figures

        engine = make_engine(settings.database_url, data_keys=settings.data_keys)
        try:
            with make_sessionmaker(engine)() as session:
                figures = flow_figures(session, flow, days=args.days or None)
        except Exception as exc:
            print(f"cannot read call figures from the database: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            engine.dispose()
    try:
        image = render(flow, image_format, figures, language=args.language)
    except DiagramError as exc:
        print(exc, file=sys.stderr)
        return 1
    if output == "-":
        sys.stdout.buffer.write(image)
        return 0
    target = Path(output or f"{flow.name}.{image_format}")
    target.write_bytes(image)
    summary = f", {figures.calls} calls ({figures.period})" if figures else ""
    print(f"{target}: flow {flow.name} version {flow.version}, {len(flow.doc.nodes)} nodes{summary}")
    return 0


# --------------------------------------------------------------------------- ivr prompts


def _served_flows_or_say(settings: Settings) -> list[Any] | None:
    """The served flows; None, after saying why on stderr, when a flow has errors."""
    from ivr.flow.catalog import served_flows
    from ivr.flow.problems import FlowError

    try:
        return served_flows(settings.flow_path)
    except FlowError as exc:
        print(f"{exc}\nthe flow has errors: run `ivr flow check` for fixes", file=sys.stderr)
        return None


def cmd_prompts_render(args: argparse.Namespace) -> int:
    """Render placeholder prompt audio for audio-only languages, for every line's flow."""
    from ivr.prompts import PromptError, render_prompts

    settings = load_settings()
    flows = _served_flows_or_say(settings)
    if flows is None:
        return 1

    def progress(done: int, total: int, name: str) -> None:
        width = 30
        filled = width * done // max(total, 1)
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name:<40}", end="", flush=True)

    for flow in flows:
        print(f"flow {flow.name}:")
        try:
            report = render_prompts(flow, settings.prompts_dir, force=args.force, languages=args.languages,
                                    progress=progress)
        except (PromptError, ValueError) as exc:
            print(f"\n{exc}", file=sys.stderr)
            return 1
        print(f"\n{len(report.rendered)} rendered, {len(report.skipped)} up to date, "
              f"{len(report.kept_studio)} studio recordings kept, {len(report.missing_studio)} studio missing")
    return 0


def cmd_prompts_check(args: argparse.Namespace) -> int:
    """List missing, stale or unplayable prompt audio of every line's flow; exit 1 if any is missing or broken."""
    from ivr.prompts import check_prompts, prompt_text

    settings = load_settings()
    flows = _served_flows_or_say(settings)
    if flows is None:
        return 1
    seen: set[str] = set()
    errors = warnings = 0
    for flow in flows:
        for issue in check_prompts(flow, settings.prompts_dir):
            if "not used by the flow" in issue.problem and any(prompt_text(f, issue.path) for f in flows):
                continue  # another line plays it
            if str(issue) in seen:
                continue
            seen.add(str(issue))
            print(issue)
            errors += issue.severity == "error"
            warnings += issue.severity == "warning"
    print(f"{errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0


# --------------------------------------------------------------------------- ivr simulate


def cmd_simulate(args: argparse.Namespace) -> int:
    """A call in the terminal against the real app; with --worker, the worker steps after it."""
    from ivr.flow.problems import FlowError
    from ivr.twilio_standin.callers import DEFAULT_FROM, ScriptedCaller, TerminalCaller, parse_keys, read_wav
    from ivr.twilio_standin.player import CallFailed
    from ivr.twilio_standin.sandbox import Sandbox

    settings = load_settings()
    try:
        recording = read_wav(args.record) if args.record else None
        keys = parse_keys(args.keys) if args.keys is not None else None
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    caller = ScriptedCaller(keys, recording) if keys is not None else TerminalCaller(recording)
    if args.into:
        return _simulate_into(args, settings, caller)
    try:
        sandbox = Sandbox(settings, flow_path=args.flow, with_media=args.worker, quiet=True)
    except FlowError as exc:
        print(f"{exc}\nthe flow has errors: run `ivr flow check` for fixes", file=sys.stderr)
        return 1
    with sandbox:
        try:
            line, number = sandbox.line_for(args.to, args.line)
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        flow = sandbox.flows.registry(line).current
        print(f"Calling {number} (line {line.name}, flow {flow.name} version {flow.version}) "
              f"from {args.from_ or DEFAULT_FROM}; scratch storage in {sandbox.folder}")
        try:
            result = sandbox.call(caller, to=number, line=args.line, from_=args.from_ or DEFAULT_FROM, on_heard=print)
        except CallFailed as exc:
            print(f"the call failed: {exc}", file=sys.stderr)
            return 1
        print(f"Call {result.call_sid}: {result.duration_s} s, {len(result.recordings)} recording(s)")
        if result.reference:
            print(f"Case reference: {result.reference}")
        else:
            print("No report was recorded, so there is no case reference.")
        if args.worker and result.recordings:
            return _run_worker(sandbox, result)
        if args.worker:
            print("No recording was left, so the workers have nothing to do.")
    return 0


def _simulate_into(args: argparse.Namespace, settings: Any, caller: Any) -> int:
    """One call into a running line, signed with its own token; its recording published on the Twilio stand-in."""
    from ivr.flow.catalog import FlowCatalog
    from ivr.flow.problems import FlowError
    from ivr.twilio_standin.callers import DEFAULT_FROM, place_call, prompt_describer
    from ivr.twilio_standin.player import CallFailed, HttpTransport, TwilioSimulator
    from ivr.twilio_standin.rest_api import RemoteStandIn
    from ivr.twilio_standin.sandbox import media_address

    into = args.into.rstrip("/")
    api_base = (args.twilio_api or (DEMO_API_FILE.read_text().strip() if DEMO_API_FILE.exists() else "")
                or settings.twilio_api_base)
    if media_address(api_base) is None:
        print(f"the line fetches recordings from {api_base}, not from a stand-in on this machine: start the line "
              "with `ivr up --demo` (or give --twilio-api)", file=sys.stderr)
        return 2
    token = settings.twilio_auth_token.get_secret_value()
    if not token:
        print("TWILIO_AUTH_TOKEN is empty: the line refuses unsigned calls; run this where the line's "
              "var/local.env is", file=sys.stderr)
        return 2
    try:
        catalog = FlowCatalog.open(args.flow or settings.flow_path, prompts_dir=settings.prompts_dir)
    except FlowError as exc:
        print(f"{exc}\nthe flow has errors: run `ivr flow check` for fixes", file=sys.stderr)
        return 1
    config = catalog.config
    line = config.line_named(args.line) if args.line else (config.line_for(args.to) if args.to else config.default)
    if line is None:
        print(f"no line {args.line!r}; lines: {', '.join(x.name for x in config.lines)}", file=sys.stderr)
        return 2
    number = args.to or (line.numbers[0] if line.numbers else "+70000000000")
    flows = [catalog.registry(x).current for x in catalog.lines]
    simulator = TwilioSimulator(
        HttpTransport(into), auth_token=token,
        # The line checks signatures against its public URL; `ivr up` makes it the address it listens on.
        public_base_url=settings.public_base_url or into,
        account_sid=settings.twilio_account_sid, api_base_url=api_base,
        fake_api=RemoteStandIn(api_base, settings.twilio_account_sid, token),
    )  # fmt: skip
    from_ = args.from_ or DEFAULT_FROM
    print(f"Calling {number} (line {line.name}) at {into} from {from_}")
    try:
        result = place_call(simulator, caller, to=number, from_=from_,
                            describe_play=prompt_describer(catalog.registry(line).current, flows), on_heard=print)
    except (CallFailed, OSError, RuntimeError) as exc:
        print(f"the call failed: {exc}", file=sys.stderr)
        return 1
    print(f"Call {result.call_sid}: {result.duration_s} s, {len(result.recordings)} recording(s)")
    # The numbers the caller heard read out, digit by digit: the reference first, then the PIN.
    numbers = [h.text.rstrip(".").replace(", ", "") for h in result.heard
               if h.kind == "say" and re.fullmatch(r"\d(, \d)*\.?", h.text)]
    if not numbers:
        print("No reference was read out in this call.")
        return 0
    reference, pin = numbers[0], (numbers[1] if len(numbers) > 1 else None)
    print(f"Case reference: {reference}")
    if pin:
        print(f"PIN: {pin}")
        print(f"Follow up (2 for Russian, 9 for a reference you have, the reference, the PIN, 3 to end the call):\n"
              f"  ivr simulate --into {into} --keys 2,9,{reference},{pin}#,3")
    print(f"The case appears in the console once the worker has fetched the recording: {into}/operator/")
    return 0


def _run_worker(sandbox: Any, result: Any) -> int:
    """The worker steps on the simulated call, in this process (the `ivr.simulate` entry point)."""
    # Found through the entry point (pyproject.toml), so `ivr` names no `workers` module.
    (worker,) = entry_points(group="ivr.simulate", name="worker")
    code: int = worker.load()(sandbox, result)
    return code


# --------------------------------------------------------------------------- ivr twilio configure


def cmd_twilio_configure(args: argparse.Namespace) -> int:
    """Set each number's voice URL, fallback URL and status callback through Twilio's REST API."""
    from ivr.flow.catalog import lines_path_for, load_lines, normalise_number
    from ivr.flow.problems import FlowError
    from ivr.twilio_setup import TwilioSetupError, configure_number, make_client

    settings = load_settings()
    config = None
    try:
        lines_path = lines_path_for(settings.flow_path)
        if lines_path is not None:
            config = load_lines(lines_path)
    except FlowError as exc:
        print(f"{exc}\nthe lines file has errors: run `ivr flow check` for fixes", file=sys.stderr)
        return 1
    numbers = [normalise_number(n) for n in args.number]
    if args.all_lines:
        if config is None:
            print("there is no lines.yaml next to the flow file: give --number", file=sys.stderr)
            return 2
        numbers += [n for line in config.lines for n in line.numbers]
    numbers = list(dict.fromkeys(numbers))
    if not numbers:
        print("give --number +7... (or --all-lines)", file=sys.stderr)
        return 2
    base_url = (args.base_url or settings.public_base_url).rstrip("/")
    if base_url.startswith("http://"):
        print(f"warning: {base_url} is not https; Twilio's requests (and the caller's data) would travel "
              "unencrypted", file=sys.stderr)
    fallback_base = (args.fallback_base_url or "").rstrip("/") or None
    if urlsplit(fallback_base or base_url).netloc == urlsplit(base_url).netloc:
        print("note: the fallback URL is on the same host as the voice URL, so it fails when this host does; "
              "serve /voice/fallback from another host and give --fallback-base-url", file=sys.stderr)
    failed = 0
    try:
        client = make_client(settings)
    except TwilioSetupError as exc:
        print(exc, file=sys.stderr)
        return 2
    for number in numbers:
        try:
            before, after = configure_number(client, number, base_url, dry_run=args.dry_run,
                                             fallback_base_url=fallback_base)
        except TwilioSetupError as exc:
            print(f"{number}: {exc}", file=sys.stderr)
            failed += 1
            continue
        verb = "would be" if args.dry_run else "is now"
        print(f"{number} ({after.sid}) {verb}:")
        for line in after.lines():
            print(f"  {line}")
        if before.voice_url and before.voice_url != after.voice_url:
            print(f"  (was: {before.voice_url})")
        if config is not None and all(number not in line.numbers for line in config.lines):
            print(f"  note: {number} is not in {lines_path}, so its calls get the default line "
                  f"({config.default.name})")
    return 1 if failed else 0

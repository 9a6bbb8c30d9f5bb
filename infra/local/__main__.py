"""``python -m infra.local`` (what ``make run`` runs) and its companion commands.

    python -m infra.local [run]                   start the whole system on 127.0.0.1
    python -m infra.local clock advance 1d        move the runner's clock; due schedules run
    python -m infra.local clock set 2026-12-01T00:00:00Z
    python -m infra.local status                  clock, pending stream records, next runs, faults
    python -m infra.local settle                  deliver every pending stream record
    python -m infra.local failures                what reached the on-failure store
    python -m infra.local faults show             the faults in force
    python -m infra.local faults clear            switch every fault off
    python -m infra.local faults throttle-writes 3
    python -m infra.local faults delay-stream 500
    python -m infra.local faults fail-records --user-id 42 [--times 2] [--mode error]
    python -m infra.local replay requests.jsonl --to https://<api>.execute-api...
    python -m infra.local key                     the API key the runner keeps (for scripts)

``run`` reads its configuration from the environment, with embedded defaults, so a fresh clone
needs none (infra.local.settings declares them: PORT, DYNAMODB_PORT, LOG_LEVEL, STATE_FILE,
FRESH, START_AT, RECORD_TO, RUNNER_FILE); keys are the shell's, kept beside the state file, or
generated once (infra.local.keys): ``python -m infra.local key`` prints the API key.
The other commands talk to the runner that wrote RUNNER_FILE (.local/runner.json) when it is
running, else to --url (default http://127.0.0.1:$PORT).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from infra.local import keys as local_keys
from infra.local import replay, runner_file
from infra.local import settings as runner_settings
from infra.local.console import Console
from infra.local.system import LocalConfig, LocalSystem


def run(args: argparse.Namespace) -> int:
    shell = dict(os.environ)  # the runner replaces its environment with the functions' at start
    try:
        settings = runner_settings.load(shell)
        keys = local_keys.resolve(shell, settings.state_file)
    except ValueError as exc:
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    record_to = Path(args.record) if args.record else settings.record_to
    config = LocalConfig(
        api_keys=keys.values[local_keys.API_KEYS],
        secrets={name: value for name, value in keys.values.items() if name != local_keys.API_KEYS},
        port=settings.port,
        dynamodb_port=settings.dynamodb_port,
        log_level=settings.log_level,
        state_file=settings.state_file,
        fresh=args.fresh or settings.fresh,
        record_to=record_to,
        start_at=settings.start_at,
    )
    console = Console()
    system = LocalSystem(config, log=console)
    # A plain flag, polled: a handler that took a lock (Event.set) could interrupt the main
    # thread while it holds that very lock, and the runner would never stop.
    stop_requested: list[int] = []

    def stop(signum: int, _: FrameType | None) -> None:
        stop_requested.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        system.start()
    except OSError as exc:
        print(f"cannot start: {exc} (set PORT / DYNAMODB_PORT to free ports)", file=sys.stderr)
        return 1
    _announce_state(console, config, system)
    if config.record_to:
        console("info", f"recording every request to {config.record_to}")
    _announce_keys(console, keys)
    runner_file.write(
        settings.runner_file, api=system.api_url, dynamodb=system.dynamodb_url, state_file=config.state_file
    )
    print(
        f"ready: API {system.api_url}  DynamoDB {system.dynamodb_url}  API key {_shown_key(keys)}", flush=True
    )
    console("info", f"console: {system.api_url}/console (sign in with the API key)")
    while not stop_requested:
        time.sleep(0.2)
    console("info", "stopping")
    system.stop()
    runner_file.remove(settings.runner_file)
    return 0


def _announce_keys(console: Console, keys: local_keys.LocalKeys) -> None:
    """Generated values are printed once, when generated; kept and chosen ones never."""
    where = f"kept in {keys.path}" if keys.path else "new at every start (STATE_FILE=off)"
    for name in keys.generated:
        if name in local_keys.NOT_SHOWN:
            console("info", f"{name} generated, never shown ({where})")
        elif name != local_keys.API_KEYS:
            console("info", f"{name}={keys.values[name]} (generated; {where})")
    if keys.path and not keys.generated:
        console("info", f"keys: unchanged, in {keys.path} (python -m infra.local keys shows them)")


def _shown_key(keys: local_keys.LocalKeys) -> str:
    source = keys.sources[local_keys.API_KEYS]
    if source == "shell":
        return "from ENGAGEMENT_API_KEYS"  # a secret someone chose: named, never printed
    if source == "kept":
        return f"in {keys.path}"
    return keys.api_key


def _announce_state(console: Console, config: LocalConfig, system: LocalSystem) -> None:
    if config.state_file is None:
        console("info", "state: in memory only (STATE_FILE=off); nothing is kept after exit")
    elif system.restored is not None:
        counts = ", ".join(f"{n} {table} items" for table, n in system.restored.items())
        console("info", f"state: restored {counts} from {config.state_file} (FRESH=1 starts clean)")
    else:
        reason = "FRESH=1" if config.fresh else "no saved state"
        console("info", f"state: starting clean ({reason}); data is saved to {config.state_file} on exit")


def _call(url: str, method: str, path: str, body: Any = None) -> int:
    if not url.startswith(("http://", "https://")):
        print(f"--url must be an http(s) URL, not {url!r}", file=sys.stderr)
        return 2
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{path}", data=data, method=method)  # noqa: S310 - scheme checked
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=300) as response:  # noqa: S310 - operator-given URL
            print(json.dumps(json.loads(response.read()), indent=2))
            return 0
    except urllib.error.HTTPError as error:
        print(error.read().decode(), file=sys.stderr)
        return 1
    except urllib.error.URLError as error:
        print(f"no runner at {url}: {error.reason} (start one with make run)", file=sys.stderr)
        return 1


def _fault_body(args: argparse.Namespace) -> dict[str, Any]:
    if args.action == "throttle-writes":
        return {"throttle_writes": int(args.value)}
    if args.action == "delay-stream":
        return {"stream_delay_ms": int(args.value)}
    match = {k: v for k in ("user_id", "item_id", "event_id", "type") if (v := getattr(args, k)) is not None}
    rule: dict[str, Any] = {**match, "mode": args.mode}
    if args.times is not None:
        rule["times"] = args.times
    return {"fail_records": rule}


def control(args: argparse.Namespace) -> int:
    """Commands that talk to a running runner's /_local API."""
    if args.command == "clock":
        method, path, body = (
            "POST",
            "/_local/clock",
            {"advance" if args.action == "advance" else "set": args.value},
        )
    elif args.command in ("status", "failures"):
        method, path, body = "GET", f"/_local/{args.command}", None
    elif args.command == "settle":
        method, path, body = "POST", "/_local/settle", {}
    elif args.action in ("show", "clear"):
        method, path, body = ("GET" if args.action == "show" else "DELETE"), "/_local/faults", None
    else:
        method, path, body = "POST", "/_local/faults", _fault_body(args)
    return _call(args.url or runner_file.discover(os.environ), method, path, body)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m infra.local",
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n")[1],  # every command on its own line: faults show, faults clear, ...
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = root.add_subparsers(dest="command")
    start = commands.add_parser("run", help="start the whole system (the default)")
    start.add_argument("--fresh", action="store_true", help="ignore saved state")
    start.add_argument("--record", metavar="FILE", help="append every request to this JSONL file")

    clock = commands.add_parser("clock", help="advance or set the runner's clock")
    clock.add_argument("action", choices=["advance", "set"])
    clock.add_argument("value", help="a duration (90s, 15m, 2h, 3d, 1w, P1DT2H) or an RFC 3339 instant")
    for name, text in (
        ("status", "show the runner's state"),
        ("settle", "deliver pending stream records"),
        ("failures", "list the on-failure store"),
    ):
        commands.add_parser(name, help=text)
    faults = commands.add_parser(
        "faults",
        help="switch faults on or off",
        description="One action per command: faults show, faults clear, faults throttle-writes N, "
        "faults delay-stream MS, faults fail-records --user-id ID.",
    )
    faults.add_argument(
        "action",
        choices=["show", "clear", "throttle-writes", "delay-stream", "fail-records"],
        help="show: the faults in force; clear: switch every fault off; throttle-writes N: throttle "
        "the next N DynamoDB writes; delay-stream MS: delay every stream delivery; fail-records: "
        "fail the scorer on matching records",
    )
    faults.add_argument("value", nargs="?", help="N writes, or delay in ms")
    faults.add_argument("--user-id")
    faults.add_argument("--item-id")
    faults.add_argument("--event-id")
    faults.add_argument("--type")
    faults.add_argument("--times", type=int, help="heal after this many failures (default: never)")
    faults.add_argument("--mode", choices=["partial", "error"], default="partial")
    replay.add_arguments(commands.add_parser("replay", help="send a recorded JSONL file to a base URL"))
    commands.add_parser("key", help="print the API key the runner keeps (beside STATE_FILE)")
    commands.add_parser("keys", help="print every key the runner keeps (beside STATE_FILE), as JSON")
    for sub in (clock, faults, *(commands.choices[n] for n in ("status", "settle", "failures"))):
        sub.add_argument(
            "--url",
            help="the running runner (default: the one RUNNER_FILE, .local/runner.json, announces; "
            "else http://127.0.0.1:$PORT)",
        )
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in (None, "run"):
        if args.command is None:
            args.fresh, args.record = False, None
        return run(args)
    if args.command == "replay":
        return replay.run(args)
    if args.command in ("key", "keys"):
        return show_keys(args.command == "keys")
    return control(args)


def show_keys(every: bool) -> int:
    """The kept keys, for scripts (``KEY=$(python -m infra.local key)``): nothing is printed when
    the runner keeps none (STATE_FILE=off, or a key set in the shell, which is yours already)."""
    settings = runner_settings.load(os.environ)
    if settings.state_file is None:
        print("STATE_FILE=off: the runner keeps no keys; its ready line shows the API key", file=sys.stderr)
        return 1
    kept = local_keys.read(settings.state_file)
    if every:
        print(json.dumps(kept, indent=2, sort_keys=True))
        return 0
    if local_keys.API_KEYS not in kept:
        print(
            f"no API key kept in {local_keys.keys_file(settings.state_file)} (start make run once)",
            file=sys.stderr,
        )
        return 1
    print(kept[local_keys.API_KEYS].split(",")[0].strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m infra.local`` (what ``make run`` runs) and its companion commands.

    python -m infra.local [run]                   start the whole system on 127.0.0.1
    python -m infra.local clock advance 1d        move the runner's clock; due schedules run
    python -m infra.local clock set 2026-12-01T00:00:00Z
    python -m infra.local status | settle | failures
    python -m infra.local faults throttle-writes 3 | delay-stream 500 | clear | show
    python -m infra.local faults fail-records --user-id 42 [--times 2] [--mode error]
    python -m infra.local replay requests.jsonl --to https://<api>.execute-api...

``run`` reads its configuration from the environment, with embedded defaults, so a fresh clone
needs none: PORT (3000), DYNAMODB_PORT (8000), ENGAGEMENT_API_KEYS (generated when unset),
LOG_LEVEL (WARNING: the functions' own JSON logs), STATE_FILE (.local/state.json; "off" keeps
data in memory only), FRESH=1 (start clean), RECORD_TO (a JSONL file receiving every request).
The other commands talk to a running runner at --url (default http://127.0.0.1:$PORT).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Any

from engagement.topology import TOPOLOGY
from infra.local import replay
from infra.local.console import Console
from infra.local.system import LocalConfig, LocalSystem

DEFAULT_STATE_FILE = ".local/state.json"


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def run(args: argparse.Namespace) -> int:
    keys = os.environ.get("ENGAGEMENT_API_KEYS") or secrets.token_urlsafe(24)
    # Webhook secrets: the shell's value, or a fresh one printed at start so curl can use it.
    webhook_secrets = {
        spec.local_env: os.environ.get(spec.local_env) or secrets.token_urlsafe(24)
        for spec in TOPOLOGY.secrets
        if spec.key != "api_keys"
    }
    state = os.environ.get("STATE_FILE", DEFAULT_STATE_FILE)
    record_to = args.record or os.environ.get("RECORD_TO")
    config = LocalConfig(
        api_keys=keys,
        secrets=webhook_secrets,
        port=int(os.environ.get("PORT", "3000")),
        dynamodb_port=int(os.environ.get("DYNAMODB_PORT", "8000")),
        log_level=os.environ.get("LOG_LEVEL", "WARNING"),
        state_file=None if state.lower() in ("", "off", "none") else Path(state),
        fresh=args.fresh or _truthy("FRESH"),
        record_to=Path(record_to) if record_to else None,
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
    for name, value in webhook_secrets.items():
        console("info", f"{name}={value}")
    first_key = keys.split(",")[0].strip()
    print(f"ready: API {system.api_url}  DynamoDB {system.dynamodb_url}  API key {first_key}", flush=True)
    console("info", f"console: {system.api_url}/console (sign in with the API key)")
    while not stop_requested:
        time.sleep(0.2)
    console("info", "stopping")
    system.stop()
    return 0


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
    return _call(args.url, method, path, body)


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m infra.local", description=__doc__.split("\n\n")[0])
    commands = root.add_subparsers(dest="command")
    start = commands.add_parser("run", help="start the whole system (the default)")
    start.add_argument("--fresh", action="store_true", help="ignore saved state")
    start.add_argument("--record", metavar="FILE", help="append every request to this JSONL file")

    default_url = f"http://127.0.0.1:{os.environ.get('PORT', '3000')}"
    clock = commands.add_parser("clock", help="advance or set the runner's clock")
    clock.add_argument("action", choices=["advance", "set"])
    clock.add_argument("value", help="a duration (90s, 15m, 2h, 3d, 1w, P1DT2H) or an RFC 3339 instant")
    for name, text in (
        ("status", "show the runner's state"),
        ("settle", "deliver pending stream records"),
        ("failures", "list the on-failure store"),
    ):
        commands.add_parser(name, help=text)
    faults = commands.add_parser("faults", help="switch faults on or off")
    faults.add_argument(
        "action", choices=["show", "clear", "throttle-writes", "delay-stream", "fail-records"]
    )
    faults.add_argument("value", nargs="?", help="N writes, or delay in ms")
    faults.add_argument("--user-id")
    faults.add_argument("--item-id")
    faults.add_argument("--event-id")
    faults.add_argument("--type")
    faults.add_argument("--times", type=int, help="heal after this many failures (default: never)")
    faults.add_argument("--mode", choices=["partial", "error"], default="partial")
    replay.add_arguments(commands.add_parser("replay", help="send a recorded JSONL file to a base URL"))
    for sub in (clock, faults, *(commands.choices[n] for n in ("status", "settle", "failures"))):
        sub.add_argument("--url", default=default_url, help=f"the running runner (default {default_url})")
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command in (None, "run"):
        if args.command is None:
            args.fresh, args.record = False, None
        return run(args)
    if args.command == "replay":
        return replay.run(args)
    return control(args)


if __name__ == "__main__":
    sys.exit(main())

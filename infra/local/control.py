"""The runner's own HTTP API under ``/_local/``: clock, faults, failures, status.

GET    /_local/status      clock, pending stream records, next schedule runs, faults
POST   /_local/clock       {"advance": "1d"} or {"set": "2026-12-01T00:00:00Z"}
POST   /_local/settle      deliver every pending stream record
GET    /_local/failures    what reached the on-failure destination
GET    /_local/buses/<key> every event published on an EventBridge bus (band changes)
GET    /_local/faults      the faults in force
POST   /_local/faults      {"throttle_writes": 3} {"stream_delay_ms": 500}
                           {"fail_records": {"user_id": "42", "times": 2, "mode": "partial"}}
                           {"hold_stream": true} (the scorer is down until false)
DELETE /_local/faults      clear every fault
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from engagement.domain import strict_json
from engagement.domain.timefmt import parse_rfc3339
from engagement.topology import TOPOLOGY
from infra.local.apigw import HttpResponse
from infra.local.gateway import Request, masked_target
from infra.local.recording import CONTROL_PREFIX
from infra.local.topics import sns_event

if TYPE_CHECKING:
    from infra.local.system import LocalSystem

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_COMPACT = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_ISO = re.compile(r"P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")


MAX_ADVANCE = timedelta(days=3650)
"""How far one call moves the clock: ten years of daily runs is already a long wait."""


def parse_duration(text: str | float) -> timedelta:
    """``90`` (seconds), ``90s``, ``15m``, ``2h``, ``3d``, ``1w``, ``1d12h`` or ISO 8601 ``P1DT2H``,
    at most ``MAX_ADVANCE``."""
    try:
        found = _duration(text)
    except (OverflowError, ArithmeticError):
        found = MAX_ADVANCE * 2
    if not timedelta(0) <= found <= MAX_ADVANCE:
        raise ValueError(f"a duration must be between 0 and {MAX_ADVANCE.days} days")
    return found


def _duration(text: str | float) -> timedelta:
    if isinstance(text, int | float) and not isinstance(text, bool):
        if not math.isfinite(text):
            raise ValueError("a duration must be a finite number of seconds")
        return timedelta(seconds=float(text))
    value = str(text).strip()
    if re.fullmatch(r"\d+(?:\.\d+)?", value):
        return timedelta(seconds=float(value))
    if re.fullmatch(f"(?:{_COMPACT.pattern})+", value):
        return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in _COMPACT.findall(value)))
    iso = _ISO.fullmatch(value.upper())
    if iso and value.upper() not in ("P", "PT"):
        weeks, days, hours, minutes, seconds = (float(g or 0) for g in iso.groups())
        return timedelta(weeks=weeks, days=days, hours=hours, minutes=minutes, seconds=seconds)
    raise ValueError(f"not a duration: {text!r} (try 90s, 15m, 2h, 3d, 1w or P1DT2H)")


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(
        status, [("content-type", "application/json")], json.dumps(body, default=str).encode()
    )


def _error(status: int, message: str) -> HttpResponse:
    return _json(status, {"error": "bad_request" if status == 400 else "not_found", "message": message})


class ControlApi:
    def __init__(self, system: LocalSystem) -> None:
        self.system = system
        self._routes: dict[tuple[str, str], Callable[[dict[str, Any]], HttpResponse]] = {
            ("GET", "status"): lambda _: _json(200, self.system.status()),
            ("POST", "clock"): self._clock,
            ("POST", "settle"): self._settle,
            ("GET", "failures"): lambda _: _json(200, {"failures": self.system.failures.messages()}),
            ("GET", "faults"): lambda _: _json(200, self.system.faults.snapshot()),
            ("POST", "faults"): self._set_faults,
            ("DELETE", "faults"): self._clear_faults,
        }

    def handle(self, request: Request) -> HttpResponse:
        name = request.path.removeprefix(CONTROL_PREFIX).strip("/")
        kind, _, key = name.partition("/")
        if (request.method, kind) in {("POST", "topics"), ("GET", "buses")} and key:
            return self._publish(key, request.body) if kind == "topics" else self._bus(key)
        route = self._routes.get((request.method, name))
        if route is None:
            return _error(404, f"no control route {request.method} {request.path}")
        try:
            body = strict_json.parse(request.body) if request.body else {}
        except strict_json.JsonRefused as refused:
            return _error(400, f"the body must be a JSON object: {refused}")
        if not isinstance(body, dict):
            return _error(400, "the body must be a JSON object")
        try:
            return route(body)
        except (ValueError, OverflowError) as exc:
            return _error(400, str(exc))

    def _publish(self, key: str, message: bytes) -> HttpResponse:
        try:
            topic = TOPOLOGY.topic(key)
        except KeyError:
            return _error(404, f"no topic {key!r}; the topology declares {[t.key for t in TOPOLOGY.topics]}")
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            return _error(400, "an SNS message is UTF-8 text")
        event = sns_event(key, text, self.system.clock.now())
        try:
            result = self.system.functions[topic.function].invoke(event)
        except Exception as exc:
            # SNS would retry (and then dead-letter) the delivery; the kind only, as everywhere.
            self.system.log("error", f"topic {key} -> {topic.function}: {type(exc).__name__}")
            return _json(502, {"error": "function_failed", "message": type(exc).__name__})
        self.system.log("stream", f"topic {key} -> {topic.function}: {result}")
        self.system.settle()
        return _json(200, {"delivered_to": topic.function, "result": result})

    def _bus(self, key: str) -> HttpResponse:
        try:
            events = self.system.published(key)
        except KeyError:
            return _error(404, f"no bus {key!r}; the topology declares {[b.key for b in TOPOLOGY.buses]}")
        return _json(200, {"bus": key, "events": events})

    def _clock(self, body: dict[str, Any]) -> HttpResponse:
        if ("advance" in body) == ("set" in body):
            raise ValueError('send {"advance": "<duration>"} or {"set": "<RFC 3339 instant>"}')
        if "advance" in body:
            target = self.system.clock.now() + parse_duration(body["advance"])
        else:
            target = parse_rfc3339(str(body["set"]))
        try:
            return _json(200, self.system.advance_to(target).as_json())
        except TimeoutError:
            # The clock moved; the stream is still being scored. Not the request's fault.
            return _json(202, {"now": self.system.clock.now().isoformat(), "settled": False})

    def _settle(self, _: dict[str, Any]) -> HttpResponse:
        try:
            self.system.settle()
        except TimeoutError:
            # Still scoring: not an error of the request. Say how much is left; ask again.
            pending = sum(p.pending() for p in self.system.pumps)
            return _json(202, {"pending_stream_records": pending, "settled": False})
        return _json(200, {"pending_stream_records": sum(p.pending() for p in self.system.pumps)})

    def _set_faults(self, body: dict[str, Any]) -> HttpResponse:
        self.system.faults.configure(body)
        self.system.log("fault", f"faults now {masked_target(json.dumps(self.system.faults.snapshot()))}")
        return _json(200, self.system.faults.snapshot())

    def _clear_faults(self, _: dict[str, Any]) -> HttpResponse:
        self.system.faults.clear()
        self.system.log("fault", "faults cleared")
        return _json(200, self.system.faults.snapshot())

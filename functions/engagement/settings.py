"""Every environment variable a function reads: declared once, parsed once at init, typed.

Design decision 9. The plain settings are the fields of :class:`Settings`, each declared with
its variable, default, rule and readers (``_declare``); the variables that carry resources
(table and bus names, secret ARNs) follow from the topology, which already says which function
uses which resource. From that one declaration:

* the CDK app sets each function's environment to exactly the variables it reads
  (``infra/cloud/functions.py``; ``tests/infra/test_functions.py`` holds the template to it);
* the local runner sets the same variables, pointed at the machine (``infra/local/system.py``);
* ``docs/configuration.md`` is generated (``python -m engagement.settings``), and a test fails
  when the committed page differs.

This is the only module under ``functions/`` that reads ``os.environ`` (a test greps for it).
It is plain Python on purpose: the stream and job functions import no pydantic, and their cold
start is measured (``make bench coldstart``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from typing import Any, Literal
from urllib.parse import urlsplit

from engagement.topology import METRICS_NAMESPACE, SERVICE_NAME, TOPOLOGY

RETENTION_DAYS = 400
"""How long the event log and the score history keep what they hold (TTL), so how far back any
answer can look. One number: the history cannot usefully outlive the events it summarizes."""

Origin = Literal["setting", "table", "bus", "queue", "secret_arn", "secret_value", "library"]


class SettingsError(ValueError):
    """A variable that cannot be used; the message names the variable and the rule, never the value."""


@dataclass(frozen=True)
class Variable:
    """One environment variable a function reads, and where its value comes from."""

    name: str
    origin: Origin
    readers: tuple[str, ...]
    """The topology's function names that read it."""
    description: str
    default: str | None = None
    """The value when nothing sets it; None when a resource supplies it (a table's name, a
    secret's ARN) and the function cannot start without it."""
    rule: str = ""
    """What a valid value looks like, as the init error and the docs say it."""
    in_aws: bool = True
    """Set by the CDK stack (secret values are not: only their ARNs are)."""
    locally: bool = True
    """Set by the local runner (secret ARNs are not: the runner gives the values)."""
    resource: str | None = None
    """The table, bus or secret key whose name or ARN the variable carries (for a queue, the
    function whose stream mapping it is the failure queue of)."""

    @property
    def secret(self) -> bool:
        return self.origin in ("secret_arn", "secret_value")


@dataclass(frozen=True)
class _Declared:
    variable: str
    default: str
    readers: tuple[str, ...]
    parse: Callable[[str], Any]
    rule: str
    description: str


_KEY = "setting"


def _declare(
    variable: str,
    *,
    default: str,
    readers: tuple[str, ...],
    parse: Callable[[str], Any],
    rule: str,
    description: str,
) -> Any:
    return field(metadata={_KEY: _Declared(variable, default, readers, parse, rule, description)})


# ---------------------------------------------------------------- parsers (raise ValueError)


def _whole(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        number = int(text.strip())
        if not low <= number <= high:
            raise ValueError("out of range")
        return number

    return parse


def _public_url(text: str) -> str | None:
    text = text.strip()
    if not text:
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError("not a base URL")
    parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    return text.rstrip("/")


def _bot_id(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", text):
        raise ValueError("not an id")
    return text


def _pattern(text: str) -> str:
    try:
        compiled = re.compile(text)
    except re.error as exc:
        raise ValueError("not a regular expression") from exc
    if compiled.fullmatch(""):
        raise ValueError("matches the empty string")
    return text


def _scoring(variable: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.strip():
            # Imported only when a stage sets one: functions that score nothing never load it.
            from engagement.domain.scoring_config import from_environment  # noqa: PLC0415

            from_environment({variable: text})
        return text

    return parse


# ------------------------------------------------------------------- the declaration

QUERY, TELEGRAM, SMS, LINKS, SCORER, DECAY, FIT = (
    "query",
    "telegram",
    "sms",
    "links",
    "scorer",
    "decay",
    "fit",
)
_EVENT_WRITERS = tuple(f.name for f in TOPOLOGY.functions if "PutItem" in f.tables.get("events", ()))
_INGESTERS = tuple(
    f.name
    for f in TOPOLOGY.functions
    if "PutItem" in f.tables.get("events", ()) and "BatchGetItem" in f.tables.get("erasures", ())
)
"""The functions that store incoming events: each checks them against the erasure records."""
_CONTACT_SCORERS = (QUERY, SCORER, DECAY, FIT)
"""The fit reads them too: its fallback is the configured prior, in the configured time unit."""
_MODEL_READERS = (QUERY, SCORER, DECAY)
"""The functions that evaluate probabilities, so read the current fitted models."""
_SCORING_FIELDS = ("score_weights", "score_type_weights", "score_curves", "segment_bands", "prediction")
_SCORING_RULE = "empty (the defaults), or comma-separated name=number pairs"


@dataclass(frozen=True, kw_only=True)
class Settings:
    """What a function was configured with, parsed. Build it with :func:`load`."""

    public_base_url: str | None = _declare(
        "PUBLIC_BASE_URL",
        default="",
        readers=(SMS, LINKS),
        parse=_public_url,
        rule="empty, or an http(s) URL without query or fragment",
        description=(
            "The URL providers and people reach the API at (a custom domain, a tunnel to a laptop). "
            "Webhook signatures are checked against it, and tracked links are made with it. Empty: "
            "the domain and stage the request came through (the runner: http://127.0.0.1:PORT)."
        ),
    )
    telegram_bot_id: str = _declare(
        "TELEGRAM_BOT_ID",
        default="issue-tracker-bot",
        readers=(TELEGRAM,),
        parse=_bot_id,
        rule="1-64 of A-Z a-z 0-9 _ . -",
        description="Names the bot in Telegram event ids, so two bots' updates never collide",
    )
    telegram_issue_key_pattern: str = _declare(
        "TELEGRAM_ISSUE_KEY_PATTERN",
        default=r"[A-Z]{1,4}-\d{1,5}",
        readers=(TELEGRAM,),
        parse=_pattern,
        rule="a Python regular expression that does not match the empty string",
        description="What an issue key looks like in chat messages (matched as a whole word)",
    )
    link_ttl_days: int = _declare(
        "LINK_TTL_DAYS",
        default="90",
        readers=(LINKS,),
        parse=_whole(1, 365),
        rule="a whole number of days, 1-365",
        description="How long a tracked link works when POST /v1/links does not say",
    )
    click_window_minutes: int = _declare(
        "CLICK_WINDOW_MINUTES",
        default="30",
        readers=(LINKS, SMS),
        parse=_whole(1, 1440),
        rule="a whole number of minutes, 1-1440",
        description=(
            "Clicks on one link (tracked links, Twilio's shortened links) within one such window count once"
        ),
    )
    event_retention_days: int = _declare(
        "EVENT_RETENTION_DAYS",
        default=str(RETENTION_DAYS),
        readers=_EVENT_WRITERS,
        parse=_whole(1, 3650),
        rule="a whole number of days, 1-3650",
        description="Days an event stays in the log before DynamoDB's TTL removes it",
    )
    erasure_receipt_window_hours: int = _declare(
        "ERASURE_RECEIPT_WINDOW_HOURS",
        default="72",
        readers=_INGESTERS,
        parse=_whole(0, 720),
        rule="a whole number of hours, 0-720",
        description=(
            "After a person is erased, delivery receipts (delivered, bounced) for them received within "
            "this window are dropped: they report on messages sent before the erasure, and Twilio's "
            "carry no time of their own. Carriers retry undelivered SMS for up to 72 hours"
        ),
    )
    history_retention_days: int = _declare(
        "HISTORY_RETENTION_DAYS",
        default=str(RETENTION_DAYS),
        readers=(DECAY, QUERY),
        parse=_whole(1, 3650),
        rule="a whole number of days, 1-3650",
        description="Days a contact's daily history point is kept; also the longest range /history serves",
    )
    score_weights: str = _declare(
        "SCORE_WEIGHTS",
        default="",
        readers=_CONTACT_SCORERS,
        parse=_scoring("SCORE_WEIGHTS"),
        rule=_SCORING_RULE,
        description="CRM component weights: recency, frequency, monetary, time_decay, diversity",
    )
    score_type_weights: str = _declare(
        "SCORE_TYPE_WEIGHTS",
        default="",
        readers=_CONTACT_SCORERS,
        parse=_scoring("SCORE_TYPE_WEIGHTS"),
        rule=_SCORING_RULE,
        description="Time-decay multiplier per event type",
    )
    score_curves: str = _declare(
        "SCORE_CURVES",
        default="",
        readers=_CONTACT_SCORERS,
        parse=_scoring("SCORE_CURVES"),
        rule=_SCORING_RULE,
        description="The CRM components' curve constants and the suppression penalty",
    )
    segment_bands: str = _declare(
        "SEGMENT_BANDS",
        default="",
        readers=_CONTACT_SCORERS,
        parse=_scoring("SEGMENT_BANDS"),
        rule=_SCORING_RULE,
        description="Band thresholds: hot, warm (composite), churning_risk",
    )
    prediction: str = _declare(
        "PREDICTION",
        default="",
        readers=_CONTACT_SCORERS,
        parse=_scoring("PREDICTION"),
        rule=_SCORING_RULE,
        description="Probability horizon, minimum sample, conversion prior, BG/NBD prior parameters",
    )
    fit_min_contacts: int = _declare(
        "FIT_MIN_CONTACTS",
        default="500",
        readers=(FIT,),
        parse=_whole(1, 100_000_000),
        rule="a whole number of contacts, 1-100000000",
        description=(
            "The weekly fit replaces a prior only when at least this many contacts have the minimum "
            "number of engagement events (PREDICTION's min_engagement_events, 2 by default); below it "
            "the configured prior stays in use and GET /v1/models says why"
        ),
    )
    model_cache_seconds: int = _declare(
        "MODEL_CACHE_SECONDS",
        default="300",
        readers=_MODEL_READERS,
        parse=_whole(0, 86_400),
        rule="a whole number of seconds, 0-86400",
        description=(
            "How long a warm function reuses the current probability models it read: a new weekly fit "
            "reaches every answer within this time"
        ),
    )
    tables: Mapping[str, str] = field(default_factory=dict)
    """Table key -> physical name, for the tables the topology gives the function."""
    buses: Mapping[str, str] = field(default_factory=dict)
    """Bus key -> name, for the buses the function publishes to."""
    failure_queues: Mapping[str, str] = field(default_factory=dict)
    """Stream consumer -> URL of its mapping's failure queue, for the functions that watch it;
    empty when unset (the depth is then reported as unknown)."""
    secrets: Mapping[str, SecretSource] = field(default_factory=dict)
    """Secret key -> where its value comes from."""

    @property
    def scoring(self) -> dict[str, str]:
        """The contact profile's variables, as ``domain.scoring_config.from_environment`` reads them."""
        plain = _plain()
        return {plain[name].variable: getattr(self, name) for name in _SCORING_FIELDS}

    @property
    def receipt_window(self) -> timedelta:
        return timedelta(hours=self.erasure_receipt_window_hours)

    def table(self, key: str) -> str:
        return self.tables.get(key, "")


@dataclass(frozen=True)
class SecretSource:
    """Where a secret's value comes from: Secrets Manager when an ARN is set (always, in AWS: a
    stray value variable next to it is ignored, so rotation cannot be bypassed), else the value
    itself (the local runner, tests), else nowhere: every request that needs it is refused."""

    arn: str | None
    value: str | None


POWERTOOLS = {
    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
"""Read by Powertools itself (logger, metrics), in every function."""


def _plain() -> dict[str, _Declared]:
    return {f.name: f.metadata[_KEY] for f in dataclasses.fields(Settings) if _KEY in f.metadata}


@cache
def variables() -> tuple[Variable, ...]:
    """Every variable any function reads, in the order the docs list them."""
    everyone = tuple(f.name for f in TOPOLOGY.functions)
    found = [
        Variable(d.variable, "setting", d.readers, d.description, default=d.default, rule=d.rule)
        for d in _plain().values()
    ]
    for table in TOPOLOGY.tables:
        readers = tuple(f.name for f in TOPOLOGY.functions if table.key in f.tables)
        found.append(
            Variable(table.env_var, "table", readers, f"Name of the {table.key} table", resource=table.key)
        )
    for bus in TOPOLOGY.buses:
        found.append(
            Variable(bus.env_var, "bus", bus.publishers, f"Name of the {bus.key} event bus", resource=bus.key)
        )
    for mapping in TOPOLOGY.stream_mappings:
        watchers = tuple(f.name for f in TOPOLOGY.functions if mapping.function in f.failure_queues)
        if mapping.failure_queue_env and watchers:
            found.append(
                Variable(
                    mapping.failure_queue_env,
                    "queue",
                    watchers,
                    f"URL of the on-failure queue of the {mapping.table} stream into {mapping.function}",
                    resource=mapping.function,
                )
            )
    for secret in TOPOLOGY.secrets:
        readers = tuple(f.name for f in TOPOLOGY.functions if secret.key in f.secrets)
        found.append(
            Variable(
                secret.arn_env,
                "secret_arn",
                readers,
                f"ARN of: {secret.description}",
                locally=False,
                resource=secret.key,
            )
        )
        found.append(
            Variable(
                secret.local_env,
                "secret_value",
                readers,
                f"{secret.description} (generated at first start when unset, kept with the state)",
                in_aws=False,
                resource=secret.key,
            )
        )
    for name, value in POWERTOOLS.items():
        found.append(Variable(name, "library", everyone, "Read by Powertools", default=value))
    return tuple(found)


def variables_of(function: str, *, in_aws: bool) -> tuple[Variable, ...]:
    """What ``function`` reads where it runs: what the stack (``in_aws``) or the runner sets."""
    return tuple(v for v in variables() if function in v.readers and (v.in_aws if in_aws else v.locally))


def validate_overrides(values: Mapping[str, str]) -> None:
    """Raise unless every name is a declared setting and every value passes its rule (the CDK
    app checks a stage's overrides with this at synth time, so a typo fails the synth)."""
    declared = {v.name for v in variables() if v.origin == "setting"}
    unknown = sorted(set(values) - declared)
    if unknown:
        raise SettingsError(f"not settings a function reads: {', '.join(unknown)}")
    load(values)


def load(environ: Mapping[str, str], *, function: str | None = None) -> Settings:
    """Parse every declared variable in ``environ`` (absent ones take their defaults).

    With ``function``, also require what that function cannot start without (its tables and
    buses). Every problem is reported at once, each by variable and rule.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    for name, declared in _plain().items():
        raw = environ.get(declared.variable, declared.default)
        try:
            values[name] = declared.parse(raw)
        except ValueError:
            problems.append(f"{declared.variable} must be {declared.rule}")
    tables = {t.key: environ.get(t.env_var, "") for t in TOPOLOGY.tables}
    buses = {b.key: environ.get(b.env_var, "") for b in TOPOLOGY.buses}
    failure_queues = {
        m.function: environ[m.failure_queue_env]
        for m in TOPOLOGY.stream_mappings
        if m.failure_queue_env and environ.get(m.failure_queue_env)
    }
    sources = {
        s.key: SecretSource(arn=environ.get(s.arn_env) or None, value=environ.get(s.local_env))
        for s in TOPOLOGY.secrets
    }
    if function is not None:
        spec = TOPOLOGY.function(function)
        missing = [TOPOLOGY.table(key).env_var for key in spec.tables if not tables[key]]
        missing += [b.env_var for b in TOPOLOGY.buses if function in b.publishers and not buses[b.key]]
        problems += [f"{name} must be set (the stack sets it; locally the runner does)" for name in missing]
    if problems:
        where = f"{function}: " if function else ""
        raise SettingsError(f"{where}invalid configuration: " + "; ".join(problems))
    return Settings(**values, tables=tables, buses=buses, failure_queues=failure_queues, secrets=sources)


@cache
def current(function: str | None = None) -> Settings:
    """This process's settings, read from its environment once.

    Handlers pass their function's name at init, so a missing table or a bad value fails the
    cold start with a message naming the variable, rather than every request.
    """
    return load(os.environ, function=function)


def reset() -> None:
    """Forget the parsed settings (tests and benchmarks that change the environment)."""
    current.cache_clear()


def markdown() -> str:
    """The configuration reference, as ``docs/configuration.md`` commits it."""
    lines = [
        "# Configuration",
        "",
        "Generated from `functions/engagement/settings.py` by `python -m engagement.settings`;",
        "`tests/unit/test_settings.py` fails when this page and the declaration differ.",
        "",
        "Every variable a function reads. The CDK stack sets exactly these (a stage overrides a",
        "setting in `cdk.json`: `stages.<stage>.settings`); the local runner sets the same ones,",
        "and a value exported in the shell that runs `make run` wins there. A bad value fails the",
        "function's init with a message that names the variable and its rule.",
        "",
        "| Variable | Default | Rule | Read by | What it is |",
        "|---|---|---|---|---|",
    ]
    for v in variables():
        if v.origin == "library":
            default = f"`{v.default}`"
        elif v.origin == "setting":
            default = f"`{v.default}`" if v.default else "(empty)"
        elif v.origin == "secret_value":
            default = "local only; generated"
        else:
            default = "set by the stack" if v.in_aws and v.locally else "AWS only; set by the stack"
        rule = v.rule or ("secret" if v.secret else "")
        readers = ", ".join(v.readers)
        lines.append(f"| `{v.name}` | {default} | {rule} | {readers} | {v.description} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())

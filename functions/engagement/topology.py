"""The single declaration of the system: tables, functions, routes, the stream mapping, schedules.

Design decision 1: the CDK app builds the cloud stack from this module and the local runner
builds the local system from it; a test holds the synthesized template against it. Nothing
about routes, mappings or schedules is written anywhere else.

This module is plain data on purpose. It must not import ``aws_cdk`` (jsii needs Node) or
boto3, so handlers, the runner and tests can all import it for free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeVar

_T = TypeVar("_T")


DynamoAction = Literal["GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem"]
"""A DynamoDB API action a function calls on a table; the stack grants exactly these."""
WRITE_ACTIONS: frozenset[DynamoAction] = frozenset({"PutItem", "UpdateItem", "DeleteItem"})


@dataclass(frozen=True)
class IndexSpec:
    """A global secondary index. Its keys are strings unless named in ``number_keys``."""

    name: str
    partition_key: str
    sort_key: str
    projected: tuple[str, ...]
    """Non-key attributes copied into the index (INCLUDE): only what its readers need, since
    every change to a projected attribute is another index write."""
    number_keys: tuple[str, ...] = ()
    projection: Literal["INCLUDE", "KEYS_ONLY", "ALL"] = "INCLUDE"
    """KEYS_ONLY (``projected`` stays empty): the index finds items, its reader gets them from the
    table; a write to the item costs the index nothing unless it moves the index's keys. ALL
    only for a retired index kept through an upgrade (``RETIRED_INDEXES``)."""


@dataclass(frozen=True)
class TableSpec:
    """A DynamoDB table: keys are strings, billing is on demand."""

    key: str
    partition_key: str
    sort_key: str | None
    env_var: str
    """Environment variable that carries the physical table name into every function using it."""
    stream: Literal["NEW_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY"] | None = None
    ttl_attribute: str | None = None
    indexes: tuple[IndexSpec, ...] = ()

    def index(self, name: str) -> IndexSpec:
        return _one(self.indexes, name, lambda i: i.name)


@dataclass(frozen=True)
class SecretSpec:
    """A secret read at run time: from Secrets Manager in AWS, from an environment variable locally."""

    key: str
    local_env: str
    """Variable holding the secret value itself (local runner, tests)."""
    arn_env: str
    """Variable holding the Secrets Manager ARN (set by the stack)."""
    description: str


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    handler: str
    """Dotted path ``module.attribute`` of the Lambda entry point."""
    memory_mb: int
    timeout_s: int
    description: str
    tables: dict[str, tuple[DynamoAction, ...]] = field(default_factory=dict)
    """Table key -> the actions this function calls on it (a test holds the code to this)."""
    indexes: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Table key -> the indexes this function queries; the grant names each index, never
    ``index/*``. The table must also be in ``tables`` (for its name), with no action if only
    its indexes are read."""
    secrets: tuple[str, ...] = ()
    packages: tuple[str, ...] = ()
    """Third-party distributions imported beyond the runtime's boto3 and the Powertools layer;
    the stack ships them in a layer built for the function's platform, at the tested versions."""
    failure_queues: tuple[str, ...] = ()
    """Stream mappings (by their consumer function) whose on-failure queue this function reads
    the depth of: the stack grants ``sqs:GetQueueAttributes`` on that queue alone and passes its
    URL in the mapping's ``failure_queue_env``."""

    @property
    def module(self) -> str:
        return self.handler.rsplit(".", 1)[0]

    @property
    def attribute(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass(frozen=True)
class RouteSpec:
    """An HTTP API route, payload format 2.0. Path parameters use API Gateway's ``{name}`` syntax."""

    method: Literal["GET", "POST", "PUT", "DELETE", "PATCH"]
    path: str
    function: str
    operation: str
    """Name of the Python function in the route module that serves it (also the OpenAPI operationId)."""
    tag: str
    status: int = 200
    """Status of a successful answer."""
    public: bool = False
    """Public routes skip the bearer-key check (the OpenAPI document, signed webhooks)."""
    accepts: tuple[str, ...] = ()
    """Media types a request body may have; any other answers 415. Empty: no body expected."""
    webhook: str | None = None
    """For a webhook route, the source module (``engagement.webhooks.<webhook>``) that serves it."""
    not_found: str | None = None
    """When the route answers 404 for something absent, what (the OpenAPI document says so)."""
    produces: tuple[str, ...] = ()
    """Media types of a successful answer that is not JSON (pages, scripts, styles)."""
    also: tuple[int, ...] = ()
    """Other success statuses, with the same body (202: accepted, not finished yet)."""

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class WebhookSpec:
    """A provider that calls in: the module ``engagement.webhooks.<module>`` exposes ``SOURCE``
    (``webhooks.source.WebhookSource``), and this line says where requests reach it.

    The topology derives the routes (public: the source verifies its own credential), and gives
    the serving function the secret. Adding a provider is that module and one line here.
    """

    module: str
    function: str
    secret: SecretSpec | None
    """What authenticates its requests; None when the transport does (SNS, with IAM)."""
    path: str | None = None
    """The HTTP path; None when it does not arrive over HTTP (an SNS topic)."""
    methods: tuple[Literal["GET", "POST"], ...] = ("POST",)
    accepts: tuple[str, ...] = ("application/json",)
    """Media types of a POST body; GET routes take none."""

    def routes(self) -> tuple[RouteSpec, ...]:
        if self.path is None:
            return ()
        return tuple(
            RouteSpec(
                method,
                self.path,
                self.function,
                f"{method.lower()}_{self.module}",
                tag="webhooks",
                public=True,
                accepts=self.accepts if method == "POST" else (),
                webhook=self.module,
            )
            for method in self.methods
        )


@dataclass(frozen=True)
class StreamMappingSpec:
    """A DynamoDB stream event source mapping, with every knob Lambda offers set explicitly.

    Defaults AWS would otherwise apply are dangerous (infinite retries and record age let one
    poison record stall a shard for a day), so none is left implicit.
    """

    table: str
    function: str
    batch_size: int
    max_batching_window_s: int
    starting_position: Literal["TRIM_HORIZON", "LATEST"]
    retry_attempts: int
    bisect_batch_on_error: bool
    max_record_age_s: int
    report_batch_item_failures: bool
    event_names: tuple[Literal["INSERT", "MODIFY", "REMOVE"], ...]
    """Records whose ``eventName`` is not listed are filtered out before batching."""
    on_failure: Literal["queue"] = "queue"
    """Batches that exhaust retries or age go to the failure queue (metadata only, as Lambda does)."""
    failure_queue_env: str = ""
    """Variable carrying the failure queue's URL into the functions that watch it
    (``FunctionSpec.failure_queues``); empty when none does."""

    def __post_init__(self) -> None:
        # Lambda's own bounds, and no "-1 = forever": an unbounded age lets one poison record
        # stall its shard for the stream's whole 24 h retention.
        if not 60 <= self.max_record_age_s <= 604_800:
            raise ValueError("max_record_age_s must be within 60..604800")
        if not 0 <= self.retry_attempts <= 10_000:
            raise ValueError("retry_attempts must be within 0..10000")
        if not 1 <= self.batch_size <= 10_000 or not 0 <= self.max_batching_window_s <= 300:
            raise ValueError("batch_size must be within 1..10000 and the window within 0..300 s")


@dataclass(frozen=True)
class TopicSpec:
    """An SNS topic this system owns, with the function subscribed to it."""

    key: str
    function: str
    description: str


@dataclass(frozen=True)
class BusSpec:
    """An EventBridge bus this system publishes to, so integrations can subscribe with rules."""

    key: str
    env_var: str
    """Variable carrying the bus name into the publishing functions."""
    source: str
    """The ``source`` of every event published; integrations match on it."""
    detail_types: tuple[str, ...]
    publishers: tuple[str, ...]
    """Functions allowed to put events on the bus."""
    description: str


@dataclass(frozen=True)
class JobSpec:
    """A scheduled maintenance job over the aggregates table, run by a managed orchestration.

    A Step Functions state machine (the local runner runs the same steps) invokes ``function``
    three ways: ``plan`` cuts the run into ``segments`` of a parallel scan, a distributed map
    runs ``work`` on up to ``max_concurrency`` segments at once (each invocation works for at most
    ``work_budget_s``, checkpointing after every page, and the map invokes it again until its
    segment is done), and ``finish`` sums the checkpoints into the run's metrics and log line.
    Reads and writes are paced to the rates below, shared by the concurrent segments, so live
    traffic keeps its capacity.
    """

    name: str
    function: str
    segments: int
    max_concurrency: int
    page_size: int
    """Items per Scan page: the unit of work between two checkpoints."""
    write_rate_per_s: float
    """Item writes per second, for the whole run."""
    read_rate_per_s: float
    """Read capacity units per second, for the whole run."""
    work_budget_s: int
    """How long one work invocation keeps taking pages (it stops between two pages)."""
    description: str
    step_attempts: int = 3
    """Attempts of each step on a Lambda error (throttles, a crash), with backoff; the work step
    resumes from its checkpoint, so a retry redoes at most one page."""

    def __post_init__(self) -> None:
        if not 1 <= self.max_concurrency <= self.segments <= 1_000_000:
            raise ValueError("need 1 <= max_concurrency <= segments")
        if not 1 <= self.page_size <= 10_000 or self.write_rate_per_s <= 0 or self.read_rate_per_s <= 0:
            raise ValueError("page_size must be within 1..10000 and the rates positive")


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge scheduled rule starting a job. Expressions use AWS syntax, in UTC."""

    name: str
    expression: str
    job: str
    description: str


@dataclass(frozen=True)
class Topology:
    tables: tuple[TableSpec, ...]
    secrets: tuple[SecretSpec, ...]
    functions: tuple[FunctionSpec, ...]
    routes: tuple[RouteSpec, ...]
    stream_mappings: tuple[StreamMappingSpec, ...]
    schedules: tuple[ScheduleSpec, ...]
    topics: tuple[TopicSpec, ...] = ()
    buses: tuple[BusSpec, ...] = ()
    jobs: tuple[JobSpec, ...] = ()
    webhooks: tuple[WebhookSpec, ...] = ()

    @classmethod
    def assemble(
        cls, *, secrets: tuple[SecretSpec, ...], routes: tuple[RouteSpec, ...], **parts: Any
    ) -> Topology:
        """The topology with what its webhooks imply: their routes, their secrets, and each
        secret granted to the function that verifies with it."""
        webhooks: tuple[WebhookSpec, ...] = parts.get("webhooks", ())
        implied = {w.secret.key: w.secret for w in webhooks if w.secret is not None}
        functions = tuple(
            replace(
                spec,
                secrets=tuple(
                    dict.fromkeys(
                        (
                            *spec.secrets,
                            *(w.secret.key for w in webhooks if w.function == spec.name and w.secret),
                        )
                    )
                ),
            )
            for spec in parts.pop("functions")
        )
        return cls(
            secrets=tuple({**{s.key: s for s in secrets}, **implied}.values()),
            routes=(*routes, *(route for w in webhooks for route in w.routes())),
            functions=functions,
            **parts,
        )

    def webhook(self, module: str) -> WebhookSpec:
        return _one(self.webhooks, module, lambda w: w.module)

    def job(self, name: str) -> JobSpec:
        return _one(self.jobs, name, lambda j: j.name)

    def bus(self, key: str) -> BusSpec:
        return _one(self.buses, key, lambda b: b.key)

    def table(self, key: str) -> TableSpec:
        return _one(self.tables, key, lambda t: t.key)

    def secret(self, key: str) -> SecretSpec:
        return _one(self.secrets, key, lambda s: s.key)

    def function(self, name: str) -> FunctionSpec:
        return _one(self.functions, name, lambda f: f.name)

    def topic(self, key: str) -> TopicSpec:
        return _one(self.topics, key, lambda t: t.key)

    def stream_mapping_for(self, function: str) -> StreamMappingSpec:
        return _one(self.stream_mappings, function, lambda m: m.function)


def _one(items: tuple[_T, ...], wanted: str, name_of: Callable[[_T], str]) -> _T:
    for item in items:
        if name_of(item) == wanted:
            return item
    raise KeyError(wanted)


SERVICE_NAME = "engagement"
"""Powertools' service name in logs and metrics, everywhere the functions run."""
METRICS_NAMESPACE = "EngagementScoring"

EVENTS_BY_USER = IndexSpec(
    name="by-user",
    partition_key="user_id",
    sort_key="occurred_ms",
    number_keys=("occurred_ms",),
    # A person's events: the latest for explanations and rebuilds; every stored field, so
    # GET /v1/users/{id}/events and the export answer from the index alone.
    projected=(
        *("event_id", "item_id", "type", "value", "context", "source", "occurred_at", "received_at"),
        "metadata",
        "expires_at",  # an erased event's tombstone expires when the event would have
    ),
)
EVENTS = TableSpec(
    key="events",
    partition_key="pk",
    sort_key=None,
    env_var="EVENTS_TABLE",
    stream="NEW_IMAGE",
    ttl_attribute="expires_at",
    indexes=(EVENTS_BY_USER,),
)
SEGMENTS = IndexSpec(
    name="segments",
    partition_key="seg",
    sort_key="uid",
    # Only attributes that change with the band, so a daily score change is no index write.
    projected=("band", "band_score", "band_since"),
)
DUE_SHARDS = 16
"""Partitions of the due index; the daily run works one shard per segment. Part of the stored
format: changing it means moving every contact's ``due_pk``."""
DUE = IndexSpec(
    name="due-keys",
    partition_key="due_pk",
    sort_key="due_ms",
    number_keys=("due_ms",),
    # Contacts by the instant of their next observable change (a band change, or the events the
    # scorer just applied): the daily run queries what is due and reads those contacts from the
    # table. Keys only: every scorer write changes a contact's counts, and with the contact
    # projected each would be a second, full-size write to this index. Sparse: only contacts
    # carry the keys.
    projected=(),
    projection="KEYS_ONLY",
)
RETIRED_INDEXES: dict[str, tuple[IndexSpec, ...]] = {
    # The due index as the first due-time release made it, copying whole contacts.
    "aggregates": (replace(DUE, name="due", projection="ALL"),)
}
"""By table key: indexes no reader uses any more, which a stack deployed before their
replacement still has. DynamoDB creates or deletes one index per table update, so such a stack
is upgraded in two deploys (docs/deploy.md): the first keeps these (``-c keep_retired_indexes=
true``) and adds their replacements, the second drops them. The local runner never has them."""
AGGREGATES = TableSpec(
    key="aggregates",
    partition_key="pk",
    sort_key="sk",
    env_var="AGGREGATES_TABLE",
    # (user, item) engagements carry the instant they become eligible for cleanup: DynamoDB
    # deletes them without a scan and without billing the deletes. Contacts and counters never
    # carry it.
    ttl_attribute="expires_at",
    indexes=(SEGMENTS, DUE),
)
ENGAGEMENT_BUS = BusSpec(
    key="engagement",
    env_var="EVENT_BUS_NAME",
    source="engagement.scoring",
    detail_types=("engagement.band_changed",),
    publishers=("scorer", "decay"),
    description="Band changes of contacts (hot, warm, cold, churning, suppressed), for integrations",
)

HISTORY = TableSpec(
    key="history",
    partition_key="pk",
    sort_key="sk",
    env_var="HISTORY_TABLE",
    # Its own table: the daily run scans the aggregates, and should not read a year of points.
    ttl_attribute="expires_at",
)
RUNS = TableSpec(
    key="runs",
    partition_key="pk",
    sort_key="sk",
    env_var="RUNS_TABLE",
    # Checkpoints of the scheduled jobs: what a resumed or repeated run reads first.
    ttl_attribute="expires_at",
)

LINKS_BY_USER = IndexSpec(
    name="by-user",
    partition_key="user_id",
    sort_key="created_at",
    # A person's tracked links, for the export and the erasure (never a scan).
    projected=("url", "campaign", "expires_at"),
)
LINKS = TableSpec(
    key="links",
    partition_key="pk",
    sort_key=None,
    env_var="LINKS_TABLE",
    ttl_attribute="expires_at",
    indexes=(LINKS_BY_USER,),
)
ERASURES = TableSpec(
    key="erasures",
    partition_key="pk",
    sort_key=None,
    env_var="ERASURES_TABLE",
    # One item per erased person, under a keyed hash of the id; kept as long as the suppression
    # and the "drop what occurred before" rule must hold, so no TTL.
)

API_KEYS = SecretSpec(
    key="api_keys",
    local_env="ENGAGEMENT_API_KEYS",
    arn_env="ENGAGEMENT_API_KEYS_SECRET_ARN",
    description="Comma-separated bearer keys accepted on /v1 routes",
)

TELEGRAM_WEBHOOK = SecretSpec(
    key="telegram_webhook",
    local_env="TELEGRAM_WEBHOOK_SECRET",
    arn_env="TELEGRAM_WEBHOOK_SECRET_ARN",
    description="The secret_token given to Telegram's setWebhook (1-256 of A-Z a-z 0-9 _ -)",
)

TWILIO = SecretSpec(
    key="twilio",
    local_env="TWILIO_AUTH_TOKEN",
    arn_env="TWILIO_AUTH_TOKEN_SECRET_ARN",
    description="Twilio account's primary Auth Token (validates X-Twilio-Signature)",
)
VONAGE = SecretSpec(
    key="vonage",
    local_env="VONAGE_SIGNATURE_SECRET",
    arn_env="VONAGE_SIGNATURE_SECRET_ARN",
    description="Vonage signature secret (signed SMS webhooks and Messages API JWTs)",
)
TELNYX = SecretSpec(
    key="telnyx",
    local_env="TELNYX_PUBLIC_KEY",
    arn_env="TELNYX_PUBLIC_KEY_SECRET_ARN",
    description="Telnyx account public key, base64 (verifies telnyx-signature-ed25519)",
)
PLIVO = SecretSpec(
    key="plivo",
    local_env="PLIVO_AUTH_TOKEN",
    arn_env="PLIVO_AUTH_TOKEN_SECRET_ARN",
    description="Plivo Auth Token (validates X-Plivo-Signature-V2/V3)",
)
LINK_SIGNING = SecretSpec(
    key="link_signing",
    local_env="LINK_SIGNING_KEY",
    arn_env="LINK_SIGNING_KEY_SECRET_ARN",
    description="Key that signs click-tracking link tokens, so forged tokens never reach the table",
)
ERASURE_KEY = SecretSpec(
    key="erasure_key",
    local_env="ERASURE_HASH_KEY",
    arn_env="ERASURE_HASH_KEY_SECRET_ARN",
    description="Key of the keyed hash (HMAC-SHA256) that names an erased person, never their id",
)
FORM_OR_JSON = ("application/x-www-form-urlencoded", "application/json")
ERASURE_CHECK: dict[str, tuple[DynamoAction, ...]] = {"erasures": ("BatchGetItem",)}
"""What a function storing or scoring events reads to drop an erased person's events."""

TOPOLOGY = Topology.assemble(
    tables=(EVENTS, AGGREGATES, LINKS, HISTORY, RUNS, ERASURES),
    secrets=(API_KEYS, LINK_SIGNING, ERASURE_KEY),
    functions=(
        FunctionSpec(
            name="ingest",
            handler="engagement.handlers.ingest.handler",
            memory_mb=512,
            timeout_s=10,
            description="POST /v1/events: validate and store engagement events, once each",
            tables={"events": ("PutItem",), **ERASURE_CHECK},
            secrets=("api_keys", "erasure_key"),
        ),
        FunctionSpec(
            name="query",
            handler="engagement.handlers.query.handler",
            memory_mb=512,
            timeout_s=10,
            description="GET /v1/users/..., segments, funnels, overview: scores evaluated at request time",
            tables={
                "aggregates": ("GetItem", "Query", "BatchGetItem"),
                "events": (),
                "history": ("Query",),
                "runs": ("BatchGetItem",),  # the overview's latest decay, cleanup and fit runs
                "links": (),
                "erasures": ("GetItem",),  # an erased person's routes say so (and any suppression)
            },
            indexes={
                "aggregates": (SEGMENTS.name,),
                "events": (EVENTS_BY_USER.name,),
                "links": (LINKS_BY_USER.name,),
            },
            secrets=("api_keys", "erasure_key"),
            failure_queues=("scorer",),  # the overview shows how many stream batches were given up
        ),
        FunctionSpec(
            name="telegram",
            handler="engagement.handlers.telegram.handler",
            memory_mb=512,
            timeout_s=10,
            description="POST /webhooks/telegram: bot updates -> events for issue keys; answers commands",
            tables={"events": ("PutItem",), "aggregates": ("GetItem", "Query"), **ERASURE_CHECK},
            secrets=("erasure_key",),
        ),
        FunctionSpec(
            name="sms",
            handler="engagement.handlers.sms.handler",
            memory_mb=512,
            timeout_s=10,
            description="SMS provider webhooks (Twilio, Vonage, Telnyx, Plivo): verified callbacks -> events",
            tables={"events": ("PutItem",), **ERASURE_CHECK},
            secrets=("erasure_key",),
            packages=("cryptography",),  # Ed25519 for Telnyx
        ),
        FunctionSpec(
            name="sms_events",
            handler="engagement.handlers.sms_events.handler",
            memory_mb=256,
            timeout_s=30,
            description="AWS End User Messaging SMS delivery events and replies, from SNS -> events",
            tables={"events": ("PutItem",), **ERASURE_CHECK},
            secrets=("erasure_key",),
        ),
        FunctionSpec(
            name="links",
            handler="engagement.handlers.links.handler",
            memory_mb=512,
            timeout_s=10,
            description="Click tracking: POST /v1/links makes a tracked link, GET /c/{token} redirects",
            tables={"links": ("PutItem", "GetItem"), "events": ("PutItem",), **ERASURE_CHECK},
            secrets=("api_keys", "link_signing", "erasure_key"),
        ),
        FunctionSpec(
            name="scorer",
            handler="engagement.handlers.scorer.handler",
            memory_mb=512,
            timeout_s=60,
            description="Event stream -> aggregates (exactly-once effect), percentiles, funnels, bands",
            tables={"aggregates": ("UpdateItem", "GetItem"), **ERASURE_CHECK},
            secrets=("erasure_key",),
        ),
        FunctionSpec(
            name="decay",
            handler="engagement.handlers.decay.handler",
            memory_mb=1024,
            timeout_s=900,
            description="Daily job steps: only contacts whose band is due or whose events are new",
            tables={
                "aggregates": ("Query", "GetItem", "BatchGetItem", "UpdateItem"),
                "history": ("PutItem",),
                "runs": ("GetItem", "PutItem", "UpdateItem", "Query"),
            },
            indexes={"aggregates": (DUE.name,)},
        ),
        FunctionSpec(
            name="cleanup",
            handler="engagement.handlers.cleanup.handler",
            memory_mb=1024,
            timeout_s=900,
            description="Weekly job steps: run records; once, a sweep giving old items expiry and due time",
            tables={
                "aggregates": ("Scan", "UpdateItem"),
                "runs": ("GetItem", "PutItem", "UpdateItem", "Query"),
            },
        ),
        FunctionSpec(
            name="fit",
            handler="engagement.handlers.fit.handler",
            memory_mb=1024,
            timeout_s=900,
            description="Weekly job steps: fit the probability models on the contacts' own histories",
            tables={
                # Scan: the contacts; GetItem, PutItem: the current and previous model items.
                "aggregates": ("Scan", "GetItem", "PutItem"),
                # Checkpoints, and each page's sample (PutItem) merged at the finish (Query).
                "runs": ("GetItem", "PutItem", "UpdateItem", "Query"),
            },
        ),
        FunctionSpec(
            name="privacy",
            handler="engagement.handlers.privacy.handler",
            memory_mb=512,
            timeout_s=30,
            description="DELETE /v1/users/{user_id}: erase a person everywhere, keeping a hashed record",
            # The only function allowed to delete a person's data; each action is one it calls.
            tables={
                # Deleted, or overwritten with a tombstone that keeps a provider-derived id taken.
                "events": ("PutItem", "DeleteItem"),
                "aggregates": ("Query", "DeleteItem", "UpdateItem"),
                "history": ("Query", "DeleteItem"),
                "links": ("DeleteItem",),
                "erasures": ("GetItem", "PutItem"),
            },
            indexes={"events": (EVENTS_BY_USER.name,), "links": (LINKS_BY_USER.name,)},
            secrets=("api_keys", "erasure_key"),
        ),
        FunctionSpec(
            name="console",
            handler="engagement.handlers.console.handler",
            memory_mb=256,
            timeout_s=10,
            description="GET /console and /docs: the operator's console and Swagger UI (public pages)",
        ),
    ),
    routes=(
        RouteSpec(
            "POST",
            "/v1/events",
            "ingest",
            "post_events",
            tag="events",
            status=202,
            accepts=("application/json",),
        ),
        RouteSpec("GET", "/v1/users/{user_id}/engagements", "query", "list_engagements", tag="scores"),
        RouteSpec(
            "GET",
            "/v1/users/{user_id}/engagements/{item_id}",
            "query",
            "get_engagement",
            tag="scores",
            not_found="the user never engaged with the item",
        ),
        RouteSpec(
            "GET",
            "/v1/users/{user_id}/stats",
            "query",
            "get_stats",
            tag="scores",
            not_found="nothing was recorded for the user",
        ),
        RouteSpec(
            "GET",
            "/v1/users/{user_id}/score",
            "query",
            "get_score",
            tag="contacts",
            not_found="nothing was recorded for the contact",
        ),
        RouteSpec("GET", "/v1/users/{user_id}/history", "query", "get_history", tag="contacts"),
        RouteSpec("GET", "/v1/users/{user_id}/curve", "query", "get_curve", tag="scores"),
        RouteSpec("GET", "/v1/segments/{band}", "query", "list_segment", tag="contacts"),
        RouteSpec(
            "GET",
            "/v1/items/{item_id}/funnel",
            "query",
            "get_funnel",
            tag="contacts",
            not_found="no contact reached any stage of the item",
        ),
        RouteSpec("GET", "/v1/overview", "query", "get_overview", tag="overview"),
        RouteSpec("GET", "/v1/models", "query", "list_models", tag="models"),
        # A person's data: list, export, erase (GDPR articles 15 and 17, CCPA).
        RouteSpec("GET", "/v1/users/{user_id}/events", "query", "list_events", tag="privacy"),
        RouteSpec("GET", "/v1/users/{user_id}/export", "query", "export_person", tag="privacy"),
        RouteSpec("DELETE", "/v1/users/{user_id}", "privacy", "erase_person", tag="privacy", also=(202,)),
        RouteSpec(
            "GET",
            "/v1/users/{user_id}/erasure",
            "privacy",
            "get_erasure",
            tag="privacy",
            not_found="no erasure of the user was ever asked for",
        ),
        RouteSpec("GET", "/v1/openapi.json", "query", "get_openapi", tag="meta", public=True),
        RouteSpec(
            "POST",
            "/v1/links",
            "links",
            "create_link",
            tag="links",
            status=201,
            accepts=("application/json",),
        ),
        RouteSpec(
            "GET",
            "/c/{token}",
            "links",
            "follow_link",
            tag="links",
            status=302,
            public=True,
            not_found="the token is unknown, forged or expired",
        ),
        # The console's pages are public; the data they show comes from the routes above, with a key.
        RouteSpec(
            "GET", "/console", "console", "get_console", tag="console", public=True, produces=("text/html",)
        ),
        RouteSpec(
            "GET",
            "/console/{asset}",
            "console",
            "get_console_asset",
            tag="console",
            public=True,
            not_found="no such asset",
            # A path that decodes back to the page itself (/console/%3F) answers the page.
            produces=("text/javascript", "text/css", "text/plain", "text/html"),
        ),
        RouteSpec(
            "GET",
            "/docs",
            "console",
            "get_docs",
            tag="console",
            public=True,
            produces=("text/html", "application/json"),
        ),
        RouteSpec(
            "GET",
            "/docs/{asset}",
            "console",
            "get_docs_asset",
            tag="console",
            public=True,
            not_found="no such asset",
            produces=("text/javascript", "text/css", "text/html"),
        ),
    ),
    stream_mappings=(
        StreamMappingSpec(
            table="events",
            function="scorer",
            batch_size=100,
            max_batching_window_s=1,
            starting_position="TRIM_HORIZON",
            retry_attempts=5,
            bisect_batch_on_error=True,
            max_record_age_s=6 * 3600,
            report_batch_item_failures=True,
            event_names=("INSERT",),
            failure_queue_env="STREAM_FAILURE_QUEUE_URL",
        ),
    ),
    schedules=(
        ScheduleSpec(
            name="decay",
            expression="cron(0 0 * * ? *)",
            job="decay",
            description="Daily at 00:00 UTC",
        ),
        ScheduleSpec(
            name="cleanup",
            expression="cron(0 2 ? * SUN *)",
            job="cleanup",
            description="Weekly on Sunday at 02:00 UTC",
        ),
        ScheduleSpec(
            name="fit",
            expression="cron(0 3 ? * SUN *)",
            job="fit",
            description="Weekly on Sunday at 03:00 UTC, after the cleanup",
        ),
    ),
    jobs=(
        JobSpec(
            name="decay",
            function="decay",
            segments=DUE_SHARDS,
            max_concurrency=4,
            page_size=500,
            write_rate_per_s=1000,
            read_rate_per_s=2000,
            work_budget_s=600,
            description="Contacts due at the run: bands, percentiles, history stretches; their next due time",
        ),
        JobSpec(
            name="cleanup",
            function="cleanup",
            segments=16,
            max_concurrency=4,
            page_size=500,
            write_rate_per_s=500,
            read_rate_per_s=2000,
            work_budget_s=600,
            description="Run records; once, the sweep giving items written before TTL expiry and due time",
        ),
        JobSpec(
            name="fit",
            function="fit",
            segments=16,
            max_concurrency=4,
            page_size=500,
            # One sample item per page: writes are a page's worth of reads apart.
            write_rate_per_s=50,
            read_rate_per_s=2000,
            work_budget_s=600,
            description="Fit BG/NBD and the conversion prior on every contact's sufficient statistics",
        ),
    ),
    buses=(ENGAGEMENT_BUS,),
    # One line per provider that calls in (the module under engagement.webhooks, its secret).
    webhooks=(
        WebhookSpec("telegram", "telegram", TELEGRAM_WEBHOOK, "/webhooks/telegram"),
        WebhookSpec("twilio", "sms", TWILIO, "/webhooks/twilio", accepts=FORM_OR_JSON),
        WebhookSpec("twilio_clicks", "sms", TWILIO, "/webhooks/twilio/clicks"),
        WebhookSpec(
            "vonage", "sms", VONAGE, "/webhooks/vonage", methods=("GET", "POST"), accepts=FORM_OR_JSON
        ),
        WebhookSpec("telnyx", "sms", TELNYX, "/webhooks/telnyx"),
        WebhookSpec("plivo", "sms", PLIVO, "/webhooks/plivo", accepts=("application/x-www-form-urlencoded",)),
        WebhookSpec("aws_sms", "sms_events", None),  # SNS delivers it, authenticated by IAM
    ),
    topics=(
        TopicSpec(
            key="sms_events",
            function="sms_events",
            description="Event destination of the End User Messaging configuration set, and two-way replies",
        ),
    ),
)

"""Run the topology's functions in this process, the way Lambda would call them.

Each function's module is imported once (its init phase), then invoked with a context that
carries its name, memory and a deadline derived from its declared timeout.
"""

from __future__ import annotations

import importlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from engagement.topology import TOPOLOGY, FunctionSpec

REGION = "us-east-1"
ACCOUNT = "000000000000"

_invoking = threading.local()


def in_invocation() -> bool:
    """Whether this thread is running a function now (its DynamoDB calls are the function's)."""
    return bool(getattr(_invoking, "depth", 0))


@dataclass
class LocalContext:
    """The attributes of ``LambdaContext`` that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_s: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_s - elapsed) * 1000))


def context_for(spec: FunctionSpec) -> LocalContext:
    return LocalContext(function_name=spec.name, memory_limit_in_mb=spec.memory_mb, timeout_s=spec.timeout_s)


@dataclass
class LocalFunction:
    """One execution environment: invocations run one at a time, as in a Lambda sandbox.

    Serializing matters beyond fidelity: a Powertools resolver keeps the current event on
    itself, so two concurrent requests in one module would see each other's event.
    """

    spec: FunctionSpec
    _entry: Callable[[Any, Any], Any] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.spec.name}"

    def load(self) -> None:
        """Import the handler module: the equivalent of a cold start's init phase."""
        if self._entry is None:
            module = importlib.import_module(self.spec.module)
            self._entry = getattr(module, self.spec.attribute)

    def invoke(self, event: Any) -> Any:
        with self._lock:
            self.load()
            assert self._entry is not None
            _invoking.depth = getattr(_invoking, "depth", 0) + 1
            try:
                return self._entry(event, context_for(self.spec))
            finally:
                _invoking.depth -= 1


def load_functions() -> dict[str, LocalFunction]:
    return {spec.name: LocalFunction(spec) for spec in TOPOLOGY.functions}

"""Logger and metrics shared by every function, configured by Powertools' variables.

The names come from the topology, which the stack and the local runner read too.
Metrics are added inside handlers only: a metric created at import time is emitted on cold
starts alone.

No Powertools Tracer: constructing one imports the X-Ray SDK (about 100 ms of every cold start,
measured by ``make bench``), and that SDK reaches end of support in February 2027. The stack
turns on Lambda active tracing, which records every invocation without it.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics

from engagement.topology import METRICS_NAMESPACE, SERVICE_NAME

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(service=SERVICE_NAME, namespace=METRICS_NAMESPACE)

# A request refused before reaching the domain records no metric; that is expected, not a
# misconfiguration, so Powertools' "no application metrics" warning is noise here.
warnings.filterwarnings("ignore", message="No application metrics to publish")

_Handler = TypeVar("_Handler", bound=Callable[..., Any])


def emit_metrics(handler: _Handler) -> _Handler:
    """``metrics.log_metrics``, plus a clear after every invocation.

    With ``POWERTOOLS_METRICS_DISABLED`` (tests, the local runner) Powertools skips the flush
    and keeps the values, then prints them anyway once a metric reaches 100 values.
    """
    flushing = metrics.log_metrics(handler)

    @functools.wraps(handler)
    def run(event: Any, context: Any) -> Any:
        try:
            return flushing(event, context)
        finally:
            metrics.clear_metrics()

    return run  # type: ignore[return-value]

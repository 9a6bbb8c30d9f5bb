"""Logger, metrics and tracer shared by every function, configured by Powertools' variables.

``POWERTOOLS_SERVICE_NAME`` and ``POWERTOOLS_METRICS_NAMESPACE`` are set by the stack (and by
the local runner); the defaults below keep a bare import working in tests and benchmarks.
Metrics are added inside handlers only: a metric created at import time is emitted on cold
starts alone.
"""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = "engagement"
NAMESPACE = "EngagementScoring"

logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer = Tracer(service=SERVICE)

# A request refused before reaching the domain records no metric; that is expected, not a
# misconfiguration, so Powertools' "no application metrics" warning is noise here.
warnings.filterwarnings("ignore", message="No application metrics to publish")

"""Secret values: Secrets Manager in AWS (cached by Powertools), an environment variable locally.

A secret that is configured nowhere reads as None, and every caller treats None as "refuse
everything": an unconfigured route is closed, never open.
"""

from __future__ import annotations

import os
import time

from engagement.topology import SecretSpec


class SecretUnavailable(Exception):
    """The secret store could not be read (throttled, denied, unreachable): retry later."""


CACHE_SECONDS = 300
# A failed check may mean the secret was rotated; refetch, but not more often than this, so a
# flood of bad requests cannot turn into a flood of Secrets Manager calls.
FORCED_REFRESH_INTERVAL_S = 30.0

_last_forced_refresh: dict[str, float] = {}


def secret_value(spec: SecretSpec, *, refresh: bool = False) -> str | None:
    # In Lambda only Secrets Manager counts: a stray variable must not silently stop rotation.
    local = None if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") else os.environ.get(spec.local_env)
    if local is not None:
        return local
    arn = os.environ.get(spec.arn_env)
    if not arn:
        return None
    # Imported here: only functions deployed with a secret ARN pay for the parameters module.
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    force = False
    if refresh:
        now = time.monotonic()
        if now - _last_forced_refresh.get(spec.key, float("-inf")) >= FORCED_REFRESH_INTERVAL_S:
            _last_forced_refresh[spec.key] = now
            force = True
    try:
        value = parameters.get_secret(arn, max_age=CACHE_SECONDS, force_fetch=force)
    except parameters.exceptions.GetParameterError as exc:
        raise SecretUnavailable(f"cannot read secret {spec.key}: {exc}") from exc
    return value if isinstance(value, str) else None

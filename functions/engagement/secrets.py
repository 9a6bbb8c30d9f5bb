"""Secret values: Secrets Manager in AWS (cached by Powertools), the value itself locally; and
the one place that checks a presented credential against a secret that may have been rotated.

A secret that is configured nowhere reads as None, and every caller treats None as "refuse
everything": an unconfigured route is closed, never open.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from engagement import settings
from engagement.topology import SecretSpec


class SecretUnavailable(Exception):
    """The secret store could not be read (throttled, denied, unreachable): retry later."""


CACHE_SECONDS = 300
# A failed check may mean the secret was rotated; refetch, but not more often than this, so a
# flood of bad requests cannot turn into a flood of Secrets Manager calls.
FORCED_REFRESH_INTERVAL_S = 30.0

_last_forced_refresh: dict[str, float] = {}

_Verdict = TypeVar("_Verdict")


def secret_value(spec: SecretSpec, *, refresh: bool = False) -> str | None:
    source = settings.current().secrets[spec.key]
    # An ARN wins: in AWS the stack always sets one, so a stray value variable cannot bypass
    # the secret (or its rotation).
    if not source.arn:
        return source.value
    # Imported here: only functions deployed with a secret ARN pay for the parameters module.
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415

    force = False
    if refresh:
        now = time.monotonic()
        if now - _last_forced_refresh.get(spec.key, float("-inf")) >= FORCED_REFRESH_INTERVAL_S:
            _last_forced_refresh[spec.key] = now
            force = True
    try:
        value = parameters.get_secret(source.arn, max_age=CACHE_SECONDS, force_fetch=force)
    except parameters.exceptions.GetParameterError as exc:
        raise SecretUnavailable(f"cannot read secret {spec.key}: {type(exc).__name__}") from exc
    return value if isinstance(value, str) else None


def check(
    spec: SecretSpec,
    verify: Callable[[str], _Verdict],
    *,
    passed: Callable[[_Verdict], bool],
    retry: Callable[[_Verdict], bool],
) -> _Verdict | None:
    """Verify a request with the secret; None when no secret is configured (refuse everything).

    When the verdict says the credential did not match (``retry``), the secret may have been
    rotated since it was cached: fetch it again (at most every ``FORCED_REFRESH_INTERVAL_S``)
    and verify once more. Raises :class:`SecretUnavailable` when the store cannot be read.
    Every credential this service accepts (API keys, webhook secrets and signatures) is checked
    here, so the rotation rule exists once.
    """
    secret = secret_value(spec)
    if secret is None:
        return None
    verdict = verify(secret)
    if passed(verdict) or not retry(verdict):
        return verdict
    fresh = secret_value(spec, refresh=True)
    if fresh is None or fresh == secret:
        return verdict
    return verify(fresh)

"""The one JSON error shape, kept free of the HTTP framework so non-HTTP functions can use it.

{"error": "<code>", "message": "<one sentence>", "details": [{"field": ..., "message": ...}]}
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from engagement.domain.errors import FieldProblem


def error_body(code: str, message: str, problems: Sequence[FieldProblem] = ()) -> str:
    body: dict[str, Any] = {"error": code, "message": message}
    if problems:
        body["details"] = [{"field": p.field, "message": p.message} for p in problems]
    return json.dumps(body)

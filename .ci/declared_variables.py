"""Print every environment variable the settings declaration names, one per line.

Plain Python over the source (no imports of the package, no virtual environment needed): CI
runs it before ``make`` has installed anything.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENGAGEMENT = ROOT / "functions" / "engagement"
NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")


def _strings(path: Path, *, fields: tuple[str, ...]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in fields and isinstance(keyword.value, ast.Constant):
                    found.add(str(keyword.value.value))
            if getattr(node.func, "id", "") == "_declare" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant):
                    found.add(str(first.value))
    return {name for name in found if NAME.match(name)}


names = _strings(ENGAGEMENT / "topology.py", fields=("env_var", "local_env", "arn_env", "failure_queue_env"))
names |= _strings(ENGAGEMENT / "settings.py", fields=())
names |= {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
print("\n".join(sorted(names)))

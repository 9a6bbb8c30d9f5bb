"""Function package size: the code asset zipped, against the 1 MB target (the layer not counted).

Measured: exactly the files the CDK asset holds (``functions/`` minus ASSET_EXCLUDES, listed by
``infra.cloud.packaging.asset_files``, which a test holds to the directory CDK stages), zipped
in memory with deflate at level 9 and fixed timestamps, so the figure depends only on the code.
Boto3 comes with the runtime and Powertools with pydantic from the official layer, so they are
not in the package and not in the figure. The unzipped size is given for information: Lambda's
own limit (250 MB unzipped, layers included) is far away.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from bench.report import Row, Section
from infra.cloud.packaging import ASSET_EXCLUDES, asset_files

FUNCTIONS_DIR = Path(__file__).resolve().parent.parent / "functions"
TARGET_BYTES = 1_000_000
"""1 MB in the decimal sense, the stricter reading of the target."""
LARGEST = 5
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def zipped_size(root: Path) -> tuple[int, int, dict[str, int]]:
    """(zipped bytes, unzipped bytes, size per file) of the asset under ``root``."""
    buffer = io.BytesIO()
    sizes: dict[str, int] = {}
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for relative in asset_files(root):
            data = (root / relative).read_bytes()
            sizes[str(relative)] = len(data)
            info = zipfile.ZipInfo(str(relative), date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data, compresslevel=9)
    return len(buffer.getvalue()), sum(sizes.values()), sizes


def run() -> Section:
    zipped, unzipped, sizes = zipped_size(FUNCTIONS_DIR)
    largest = sorted(sizes.items(), key=lambda item: item[1], reverse=True)[:LARGEST]
    return Section(
        key="package",
        title="5. Function package: the code asset, zipped, without the Powertools layer",
        measured_label="package",
        baseline_label="target",
        unit="kB",
        decimals=1,
        rows=[
            Row("zipped asset vs the 1 MB target", zipped / 1000, TARGET_BYTES / 1000, 1.0),
            Row("unzipped asset vs 1 MB", unzipped / 1000, TARGET_BYTES / 1000, None),
        ],
        notes=[
            f"{len(sizes)} files from functions/ after ASSET_EXCLUDES ({', '.join(ASSET_EXCLUDES)});"
            " deflate level 9, fixed timestamps. One asset is shared by every function.",
            "Largest: " + ", ".join(f"{name} {size / 1000:.1f} kB" for name, size in largest) + ".",
        ],
        details={"zipped_bytes": zipped, "unzipped_bytes": unzipped, "files": len(sizes)},
    )

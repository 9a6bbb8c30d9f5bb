"""The functions' code asset: our package only, exactly the files bench/package.py measures.

Checked on the asset directory CDK staged into the cloud assembly, which is what gets zipped
and uploaded, not on a reconstruction of it.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from infra.cloud.app import FUNCTIONS_DIR
from infra.cloud.packaging import PROVIDED_BY_RUNTIME_OR_LAYER, asset_files
from tests.infra.synth import Synthesized


def _asset_dir(dev: Synthesized) -> Path:
    keys = {
        function["Properties"]["Code"]["S3Key"]
        for function in dev.service.find_resources("AWS::Lambda::Function").values()
    }
    # One asset shared by every function: one upload, one hash.
    (key,) = keys
    asset = dev.outdir / f"asset.{key.removesuffix('.zip')}"
    assert asset.is_dir(), asset
    return asset


def _files(root: Path) -> list[PurePosixPath]:
    return sorted(PurePosixPath(p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file())


def test_asset_holds_no_copy_of_what_the_runtime_or_layer_provides(dev: Synthesized) -> None:
    asset = _asset_dir(dev)
    for path in _files(asset):
        top = path.parts[0]
        assert top.split("-")[0] not in PROVIDED_BY_RUNTIME_OR_LAYER, path
        assert not top.endswith((".dist-info", ".egg-info")), path
    assert not [p for p in _files(asset) if p.suffix in {".so", ".pyc"}]


def test_asset_is_the_runtime_package_and_nothing_else(dev: Synthesized) -> None:
    tops = {path.parts[0] for path in _files(_asset_dir(dev))}
    assert tops == {"engagement"}


def test_bench_measures_exactly_the_staged_asset(dev: Synthesized) -> None:
    # bench/package.py zips asset_files(); CDK staged the directory with ASSET_EXCLUDES.
    assert asset_files(FUNCTIONS_DIR) == _files(_asset_dir(dev))

"""`engine: ray` end to end (issue 16): `dbt build` with the conversion on Ray gives the same files.

- The embedded sample built with `engine: ray` (a Ray of 2 CPUs started by the build, on loopback) gives a
  main export byte-identical to the local build's (the session's shared sample build) and the same rejects.
- SERA_ENGINE=ray picks Ray when the var is not given, and an unreachable RAY_ADDRESS fails the build in
  one line naming RAY_ADDRESS, leaving the previous export and parts as they were: one failing build shows
  both (it can only fail that way on Ray).
- An engine value other than local or ray stops dbt before any file is read.
The bad-input suite's Ray run is in test_bad_inputs.py (it shares that module's sources and local build).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from dbt_runs import EXPORT_NAME, dbt_build, query

pytestmark = pytest.mark.integration

REJECTS = "select * from sera_rectified_rejects order by source_dataset, source_file, source_row"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def parts_state(folder: Path) -> dict[str, tuple[int, int]]:
    """(inode, mtime) of each part: a replaced folder has new files."""
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in sorted(folder.glob("part-*.parquet"))}


@pytest.fixture(scope="module")
def ray_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("ray_build")
    result = dbt_build(workdir, vars={"engine": "ray"}, env={"SERA_THREADS": "2"})
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return workdir


def test_ray_export_is_byte_identical_to_the_local_one(sample_build: Path, ray_build: Path) -> None:
    for name in (EXPORT_NAME, EXPORT_NAME.replace(".parquet", "_sft.parquet")):
        assert sha256(ray_build / "output" / name) == sha256(sample_build / "output" / name), name


def test_ray_rejects_are_the_local_ones(sample_build: Path, ray_build: Path) -> None:
    assert query(ray_build, REJECTS) == query(sample_build, REJECTS)


def test_unreachable_ray_address_fails_in_one_line_and_replaces_nothing(ray_build: Path) -> None:
    export, parts = ray_build / "output" / EXPORT_NAME, ray_build / "sera_converted"
    before = sha256(export), parts_state(parts)
    result = dbt_build(ray_build, env={"SERA_ENGINE": "ray", "RAY_ADDRESS": "127.0.0.1:1"})
    assert result.returncode == 1, result.stdout[-4000:]
    summary = result.stdout.split("Completed with 1 error", 1)
    assert len(summary) == 2, result.stdout[-4000:]
    lines = [line for line in summary[1].splitlines() if "RAY_ADDRESS=127.0.0.1:1" in line]
    assert len(lines) == 1, summary[1][-3000:]
    assert "no Ray cluster answers there" in lines[0] and "unset RAY_ADDRESS" in lines[0]
    assert (sha256(export), parts_state(parts)) == before
    assert sorted(path.name for path in ray_build.glob("sera_converted*")) == ["sera_converted"]


def test_unknown_engine_stops_before_any_file_is_read(tmp_path: Path) -> None:
    result = dbt_build(tmp_path, vars={"engine": "spark"})
    assert result.returncode != 0
    assert 'var engine = "spark" is not valid. Valid values: local or ray' in result.stdout, result.stdout[-3000:]
    assert not (tmp_path / "sera_converted").exists()

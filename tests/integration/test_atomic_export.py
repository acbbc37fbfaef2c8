"""The export is atomic and stable (spec/output.md): real `dbt build` runs on a realistic input.

- Atomic: a build killed (SIGKILL of dbt's whole process group) while the export model writes its
  temporary file leaves export_path as it was: the previous complete file byte for byte, or no file.
  The next successful build leaves no temporary file behind.
- Stable: builds of the same input give byte-identical Parquet (unset and SERA_THREADS=2 here, on 2
  cores), SERA_THREADS=1 gives the same rows in the same order (DuckDB then groups rows by size, not one
  row group per conversion part), and the rows are in the order of spec/output.md (dataset, file path, row).

All runs share one workdir and one set of dbt vars (so dbt re-parses the project only once) and run in
sequence in one module fixture; each test then checks one observation.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import bad_inputs as bi
import pyarrow.parquet as pq
import pytest
from dbt_runs import EXPORT_NAME, dbt_build, start_dbt_build

pytestmark = pytest.mark.integration

DATASETS = {"Sera-4.5A-Full-T1": 60, "Sera-4.5A-Full-T2": 60}  # realistic rows (~200 KB each): ~25 MB
POLL_SECONDS = 0.002
BUILD_TIMEOUT = 300


def build_ok(workdir: Path, vars: dict, env: dict | None = None) -> str:
    """A build that must succeed; returns the sha256 of the export it wrote."""
    result = dbt_build(workdir, vars=vars, env=env, timeout=BUILD_TIMEOUT)
    assert result.returncode == 0, bi.plain(result.stdout)[-5000:] + result.stderr[-2000:]
    return bi.sha256(workdir / "output" / EXPORT_NAME)


def kill_during_export(workdir: Path, vars: dict) -> dict:
    """Start a build, SIGKILL its process group as soon as the export's temporary file appears."""
    export = workdir / "output" / EXPORT_NAME
    stale = set(bi.temp_exports(export))
    log = workdir / f"killed_build_{len(stale)}.txt"
    process = start_dbt_build(workdir, vars, output=log)
    deadline = time.monotonic() + BUILD_TIMEOUT
    killed_with: list[Path] = []
    try:
        while process.poll() is None and time.monotonic() < deadline:
            new = [path for path in bi.temp_exports(export) if path not in stale]
            if new:
                os.killpg(process.pid, signal.SIGKILL)
                killed_with = new
                break
            time.sleep(POLL_SECONDS)
    finally:
        if process.poll() is None and not killed_with:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=60)
    return {
        "returncode": process.returncode,
        "output": bi.plain(log.read_text(errors="replace")),
        "temp_files_at_kill": killed_with,
        "temp_files_after": bi.temp_exports(export),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = tmp_path_factory.mktemp("atomic")
    sources = workdir / "sources"
    expected_order = bi.write_realistic_sources(sources, DATASETS)
    vars = {"sources_dir": str(sources), "datasets": list(DATASETS)}
    export = workdir / "output" / EXPORT_NAME
    seen: dict = {"export": export, "expected_order": expected_order}

    # a good build: the previous complete file
    seen["first"] = build_ok(workdir, vars)
    seen["first_instance_ids"] = pq.read_table(export, columns=["instance_id"]).column("instance_id").to_pylist()
    previous = workdir / "previous.parquet"
    shutil.copyfile(export, previous)

    # (a) killed mid-export with a previous file at export_path
    seen["kill_with_previous"] = kill_during_export(workdir, vars)
    seen["kill_with_previous"]["sha_after"] = bi.sha256(export) if export.exists() else None
    seen["kill_with_previous"]["rows_after"] = pq.read_table(export).num_rows if export.exists() else None

    # (b) killed mid-export with no file at export_path
    export.unlink()
    seen["kill_without_previous"] = kill_during_export(workdir, vars)
    seen["kill_without_previous"]["exists_after"] = export.exists()
    seen["stale_before_recovery"] = bi.temp_exports(export)

    # (c) the next successful build: export back, no temporary file left; (d) also a second default build
    seen["after_kill"] = build_ok(workdir, vars)
    seen["temp_files_after_recovery"] = sorted(export.parent.glob("*.tmp-*"))

    # (d) thread counts
    seen["threads_1"] = build_ok(workdir, vars, env={"SERA_THREADS": "1"})
    seen["threads_1_rows"] = pq.read_table(export)
    seen["threads_2"] = build_ok(workdir, vars, env={"SERA_THREADS": "2"})
    seen["threads_2_rows"] = pq.read_table(export)
    seen["previous_sha"] = bi.sha256(previous)
    return seen


def test_kill_during_export_keeps_the_previous_file(runs: dict) -> None:
    run = runs["kill_with_previous"]
    assert run["temp_files_at_kill"], "the build ended before the export wrote its temporary file:\n" + run["output"][-3000:]
    assert run["returncode"] == -signal.SIGKILL
    assert run["temp_files_after"], "the kill came after the rename: the test did not interrupt the export"
    assert run["sha_after"] == runs["previous_sha"] == runs["first"], "export_path changed although the build was killed"
    assert run["rows_after"] == len(runs["expected_order"])  # still a complete, readable Parquet file


def test_kill_during_export_without_previous_file_leaves_none(runs: dict) -> None:
    run = runs["kill_without_previous"]
    assert run["temp_files_at_kill"], "the build ended before the export wrote its temporary file:\n" + run["output"][-3000:]
    assert run["returncode"] == -signal.SIGKILL
    assert run["temp_files_after"], "the kill came after the rename: the test did not interrupt the export"
    assert not run["exists_after"], "a killed build left a file at export_path"


def test_next_successful_build_leaves_no_temporary_file(runs: dict) -> None:
    assert runs["stale_before_recovery"], "precondition: the killed build left its temporary file"
    assert runs["temp_files_after_recovery"] == []
    assert runs["export"].exists()


def test_two_default_builds_are_byte_identical(runs: dict) -> None:
    assert runs["after_kill"] == runs["first"]


def test_thread_count_does_not_change_the_rows(runs: dict) -> None:
    assert runs["threads_2"] == runs["first"]  # byte for byte: the default here is 2 threads
    assert runs["threads_1_rows"].equals(runs["threads_2_rows"])
    assert runs["threads_1_rows"].num_rows == len(runs["expected_order"])


def test_export_rows_follow_the_spec_order(runs: dict) -> None:
    assert runs["first_instance_ids"] == runs["expected_order"]

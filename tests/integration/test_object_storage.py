"""Past one machine (issue 16): the sample on an S3 endpoint, built on a two-node Ray cluster, gives the same files.

An S3 server on 127.0.0.1 (moto) holds the embedded sample; a local Ray cluster of two nodes (Ray's own
test cluster utilities, loopback only) runs the conversion; `dbt build` reads the sources from S3, writes
the parts and the exports there. The exports must be byte-identical to the local build's (the session's
shared sample build), the rejects the same, and every client the project starts (the dbt run, the query
script) must read the views over the parts on S3.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow.fs as pafs
import pytest
from dbt_runs import EXPORT_NAME, dbt_build, query

from sera_rectify.ray_engine import LOOPBACK_SETTING
from sera_rectify.storage import register_filesystems
from sera_testkit.constants import REPO, SAMPLE_DIR
from sera_testkit.s3 import BUCKET, local_s3, refusing_writes, s3_client, s3_environment, upload_folder

pytestmark = pytest.mark.integration

SOURCES = f"s3://{BUCKET}/sources"
CONVERTED = f"s3://{BUCKET}/converted"
EXPORT = f"s3://{BUCKET}/out/{EXPORT_NAME}"
SFT_EXPORT = EXPORT.replace(".parquet", "_sft.parquet")
REJECTS = "select * from sera_rectified_rejects order by source_dataset, source_file, source_row"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with local_s3() as url:
        upload_folder(url, SAMPLE_DIR, SOURCES)
        yield url


@pytest.fixture(scope="module")
def cluster_address(endpoint: str) -> Iterator[str]:
    """Two Ray nodes of one CPU each on loopback, started after the S3 variables are set (the workers
    inherit them, as a cluster's nodes get their credentials from their environment)."""
    ray_tmp = Path(tempfile.mkdtemp(prefix="sera-ray-s3-"))  # short: Ray's socket paths stay under 108 bytes
    (ray_tmp / "ray").mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(LOOPBACK_SETTING, "0")
        patch.setenv("RAY_TMPDIR", str(ray_tmp))
        patch.delenv("RAY_ADDRESS", raising=False)
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        try:
            cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            yield cluster.address
        finally:
            cluster.shutdown()
            shutil.rmtree(ray_tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def s3_build(endpoint: str, cluster_address: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("s3_build")
    variables = {"sources_dir": SOURCES, "converted_dir": CONVERTED, "export_path": EXPORT, "engine": "ray"}
    result = dbt_build(workdir, vars=variables, env=s3_environment(endpoint) | {"RAY_ADDRESS": cluster_address})
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return workdir


def read_object(endpoint: str, uri: str) -> bytes:
    with s3_client(endpoint).open_input_file(uri.removeprefix("s3://")) as handle:
        return handle.read()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_exports_on_s3_are_byte_identical_to_the_local_build(endpoint: str, s3_build: Path, sample_build: Path) -> None:
    for uri, name in ((EXPORT, EXPORT_NAME), (SFT_EXPORT, EXPORT_NAME.replace(".parquet", "_sft.parquet"))):
        assert sha256(read_object(endpoint, uri)) == sha256((sample_build / "output" / name).read_bytes()), name
    assert b"SERA" in read_object(endpoint, f"s3://{BUCKET}/out/README.md")  # the card beside the export
    assert not (s3_build / "output").exists()


def test_parts_are_under_one_run_prefix_and_the_views_read_them(endpoint: str, s3_build: Path, sample_build: Path) -> None:
    client = s3_client(endpoint)
    objects = [info.path for info in client.get_file_info(pafs.FileSelector(f"{BUCKET}/converted", recursive=True)) if info.is_file]
    runs = {path.split("/")[2] for path in objects}
    assert len(runs) == 1 and next(iter(runs)).startswith("run-")
    paths = [row[0] for row in query(s3_build, "select part_path from int_conversion_parts order by part_number")]
    assert sorted(paths) == sorted(f"s3://{path}" for path in objects)
    with duckdb.connect(str(s3_build / "sera.duckdb"), read_only=True) as connection:
        register_filesystems(connection)
        assert connection.execute(REJECTS).fetchall() == query(sample_build, REJECTS)
        reconciled = connection.execute("select sum(rows_read), sum(rows_out) + sum(rows_rejected) from source_reconciliation").fetchone()
    assert reconciled[0] == reconciled[1] == 103


def test_the_query_script_reads_views_over_parts_on_s3(endpoint: str, s3_build: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "query.py"), "rows_by_teacher_rollout", "--db", str(s3_build / "sera.duckdb")],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]} | s3_environment(endpoint),
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "GLM-4.6" in result.stdout and "GLM-4.5-Air" in result.stdout


def test_an_object_store_that_refuses_the_export_keeps_the_old_one(endpoint: str, s3_build: Path) -> None:
    """The S3 server refuses every write under out/ (a real 403 for the build's credentials): the build fails
    with one line naming the export, and the export of the earlier build is byte for byte as it was."""
    before = read_object(endpoint, EXPORT)
    variables = {"sources_dir": SOURCES, "converted_dir": CONVERTED, "export_path": EXPORT}
    with refusing_writes(endpoint, f"{BUCKET}/out/*"):
        credentials = {name: os.environ[name] for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
        result = dbt_build(s3_build, vars=variables, env=s3_environment(endpoint) | credentials)
    assert result.returncode == 1, result.stdout[-4000:]
    summary = result.stdout.split("Completed with 1 error", 1)
    assert len(summary) == 2, result.stdout[-4000:]
    lines = [line for line in summary[1].splitlines() if f"could not write the export {EXPORT}" in line]
    assert len(lines) == 1 and "is left as it was" in lines[0], summary[1][-3000:]
    assert read_object(endpoint, EXPORT) == before
    assert not [path for path in objects_under(endpoint, f"{BUCKET}/out") if ".tmp-" in path]


def objects_under(endpoint: str, prefix: str) -> list[str]:
    return [info.path for info in s3_client(endpoint).get_file_info(pafs.FileSelector(prefix, recursive=True)) if info.is_file]

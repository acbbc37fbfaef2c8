"""A source file larger than one byte range, end to end (issue 16): the dbt process plans a plain JSON Lines
file as 32 MB ranges by its size, each task reads and numbers its own range, and the view adds each
range's first row. Through dbt's SQL the rows must come out once each, in file order, with source_row their
index in the file, and source_reconciliation must balance.
"""

from __future__ import annotations

import bad_inputs as bi
import pyarrow.parquet as pq
import pytest
from dbt_runs import EXPORT_NAME, dbt_build, query

from sera_rectify.chunks import CHUNK_MAX_BYTES

pytestmark = pytest.mark.integration

DATASET = "Sera-4.6-Lite-T2"
ROWS = 170  # realistic rows of ~200 KB: one file of ~35 MB, two byte ranges


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = tmp_path_factory.mktemp("byte_ranges")
    expected = bi.write_realistic_sources(workdir / "sources", {DATASET: ROWS}, files_per_dataset=1)
    [source] = (workdir / "sources" / DATASET).rglob("*.jsonl")
    result = dbt_build(workdir, vars={"sources_dir": str(workdir / "sources"), "datasets": [DATASET]})
    assert result.returncode == 0, bi.plain(result.stdout)[-5000:] + result.stderr[-2000:]
    return {"workdir": workdir, "expected": expected, "source_bytes": source.stat().st_size}


def test_the_file_is_planned_in_several_ranges(build: dict) -> None:
    assert build["source_bytes"] > CHUNK_MAX_BYTES
    chunks = query(build["workdir"], "select chunk_number, min(first_source_row), sum(n_rows) from int_conversion_parts group by all order by 1")
    assert len(chunks) == -(-build["source_bytes"] // CHUNK_MAX_BYTES)
    assert chunks[0][1] == 0 and chunks[1][1] == chunks[0][2] > 0


def test_rows_come_out_once_in_file_order_with_their_index(build: dict) -> None:
    rows = query(
        build["workdir"],
        "select source_row, instance_id from sera_rectified union all select source_row, instance_id from sera_rectified_rejects order by 1",
    )
    assert [row[0] for row in rows] == list(range(ROWS))
    assert [row[1] for row in rows] == build["expected"]
    exported = pq.read_table(build["workdir"] / "output" / EXPORT_NAME, columns=["instance_id"]).column("instance_id").to_pylist()
    assert exported == [instance_id for _, instance_id in query(build["workdir"], "select source_row, instance_id from sera_rectified order by 1")]


def test_reconciliation_balances(build: dict) -> None:
    assert query(build["workdir"], "select rows_read, rows_out + rows_rejected from source_reconciliation") == [(ROWS, ROWS)]

"""The whole `dbt build` on the embedded sample, in a temporary directory, checked from outside.

These run the real pipeline (dbt, DuckDB, the Python models) and look only at what a user gets:
the Parquet file, the DuckDB tables and the exit status.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from dbt_runs import CHECK_OUTPUT, dbt_build, query

from sera_rectify.reasons import REJECT_REASONS
from sera_testkit.constants import SAMPLE_DIR

pytestmark = pytest.mark.integration



def sample_rows_per_dataset() -> dict[str, int]:
    """Non-blank lines in the sample files, counted here without the project's reader."""
    counts: dict[str, int] = {}
    for path in SAMPLE_DIR.rglob("*.jsonl"):
        dataset = path.relative_to(SAMPLE_DIR).parts[0]
        counts[dataset] = counts.get(dataset, 0) + sum(1 for line in path.read_bytes().splitlines() if line.strip())
    return counts


def test_export_passes_the_contract_validator(sample_build: Path) -> None:
    if not CHECK_OUTPUT.exists():
        pytest.skip(f"{CHECK_OUTPUT} is not beside the repo")
    export = sample_build / "output" / "sera_rectified.parquet"
    result = subprocess.run([sys.executable, str(CHECK_OUTPUT), str(export)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith(" 0 violations")


def test_every_source_row_is_output_or_rejected(sample_build: Path) -> None:
    rows = query(sample_build, "select source_dataset, rows_read, rows_out, rows_rejected from source_reconciliation")
    reconciliation = {row[0]: row[1:] for row in rows}
    assert {dataset: read for dataset, (read, _, _) in reconciliation.items()} == sample_rows_per_dataset()
    for dataset, (read, out, rejected) in reconciliation.items():
        assert read == out + rejected, dataset
        assert out > 0, dataset


def test_rejects_carry_known_reasons_and_a_detail(sample_build: Path) -> None:
    rejects = query(sample_build, "select reason, detail from sera_rectified_rejects")
    assert rejects, "the sample holds rows that break rules: some must be rejected"
    assert {reason for reason, _ in rejects} <= set(REJECT_REASONS)
    assert all(detail for _, detail in rejects)


def test_real_rows_convert(sample_build: Path) -> None:
    rows = query(
        sample_build,
        "select instance_id, n_messages, n_tool_calls, line_level_recall from sera_rectified "
        "where source_file like 'Sera-4.6-Lite-T2/real/%' order by source_row",
    )
    assert rows == [
        ("tinydb_10309", 52, 16, 1.0),
        ("ptyprocess_10174", 82, 26, 0.4074074074074074),
        ("cantools_10317", 109, 35, 0.5),
    ]


def test_export_is_in_source_order_with_the_8_columns(sample_build: Path) -> None:
    table = pq.read_table(sample_build / "output" / "sera_rectified.parquet")
    assert table.column_names == ["messages", "instance_id", "teacher", "scale", "rollout", "func_name", "func_path", "line_level_recall"]
    assert all(field.nullable for field in table.schema)
    expected = query(sample_build, "select instance_id from sera_rectified order by dataset_order, source_file, source_row")
    assert table.column("instance_id").to_pylist() == [row[0] for row in expected]
    metadata = pq.ParquetFile(sample_build / "output" / "sera_rectified.parquet").metadata
    codecs = {metadata.row_group(g).column(c).compression for g in range(metadata.num_row_groups) for c in range(metadata.num_columns)}
    assert codecs == {"ZSTD"}


def test_card_filter_snippet_works_on_the_export(sample_build: Path) -> None:
    t = pq.read_table(sample_build / "output" / "sera_rectified.parquet")
    t2 = t.filter(pc.field("rollout") == "T2")
    verified = t.filter(pc.field("line_level_recall") > 0.75)
    glm46 = t.filter(pc.field("teacher") == "GLM-4.6")
    assert 0 < t2.num_rows < t.num_rows
    assert 0 < verified.num_rows <= t2.num_rows
    assert set(verified.column("rollout").to_pylist()) == {"T2"}
    assert set(glm46.column("scale").to_pylist()) == {"lite"}


def test_filtered_export_keeps_only_matching_rows_and_leaves_tables_whole(tmp_path: Path, sample_build: Path) -> None:
    subset = tmp_path / "out" / "lite_t2_075.parquet"
    result = dbt_build(tmp_path, vars={"teacher": "GLM-4.6", "rollout": "T2", "min_recall": 0.75, "export_path": str(subset)})
    assert result.returncode == 0, result.stdout[-5000:]
    table = pq.read_table(subset)
    matching = "teacher = 'GLM-4.6' and rollout = 'T2' and line_level_recall >= 0.75"
    expected = query(sample_build, f"select count(*) from sera_rectified where {matching}")[0][0]
    assert table.num_rows == expected > 0
    assert query(tmp_path, "select count(*) from sera_rectified") == query(sample_build, "select count(*) from sera_rectified")


def test_two_builds_give_byte_identical_exports(tmp_path: Path, sample_build: Path) -> None:
    result = dbt_build(tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]
    exports = (tmp_path / "output" / "sera_rectified.parquet", sample_build / "output" / "sera_rectified.parquet")
    digests = {hashlib.sha256(path.read_bytes()).hexdigest() for path in exports}
    assert len(digests) == 1

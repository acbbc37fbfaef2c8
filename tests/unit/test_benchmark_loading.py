"""Loading the benchmark of the `benchmark` var (sera_rectify.benchmark): local Parquet and JSON Lines files,
the one-line errors for a file the overlap check cannot use. The Hub-id path runs in
tests/integration/test_flags.py (fake Hub, then offline from the `datasets` cache)."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sera_rectify.benchmark import SCHEMA, BenchmarkError, load_benchmark

ROWS = [
    {"instance_id": "django__django-11099", "repo": "django/django", "problem_statement": "UsernameValidator allows trailing newline", "version": 3.0},
    {"instance_id": "psf__requests-2317", "repo": "psf/requests", "problem_statement": "method = builtin_str(method) problem", "version": 2.4},
]


@pytest.fixture
def connection():
    with duckdb.connect() as connection:
        yield connection


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_a_parquet_benchmark_gives_its_three_columns_as_strings(connection, tmp_path: Path) -> None:
    pq.write_table(pa.Table.from_pylist(ROWS), tmp_path / "verified.parquet")
    table = load_benchmark(connection, str(tmp_path / "verified.parquet"), "test")
    assert table.schema == SCHEMA
    assert table.to_pylist() == [{key: row[key] for key in SCHEMA.names} for row in ROWS]


def test_a_json_lines_benchmark_reads_the_same(connection, tmp_path: Path) -> None:
    table = load_benchmark(connection, str(write_jsonl(tmp_path / "verified.jsonl", ROWS)), "test")
    assert table.column("repo").to_pylist() == ["django/django", "psf/requests"]


def test_no_benchmark_is_no_row(connection) -> None:
    assert load_benchmark(connection, None, "test").num_rows == 0


def test_a_benchmark_without_a_needed_column_is_one_line_naming_it(connection, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "ids.jsonl", [{"instance_id": row["instance_id"], "text": "x"} for row in ROWS])
    with pytest.raises(BenchmarkError) as raised:
        load_benchmark(connection, str(path), "test")
    message = str(raised.value)
    assert "\n" not in message
    assert f"benchmark {path} has no column repo, problem_statement" in message
    assert "instance_id, repo, problem_statement" in message


def test_a_local_file_of_another_kind_is_refused(connection, tmp_path: Path) -> None:
    (tmp_path / "verified.csv").write_text("instance_id,repo,problem_statement\n")
    with pytest.raises(BenchmarkError, match="neither Parquet nor JSON Lines"):
        load_benchmark(connection, str(tmp_path / "verified.csv"), "test")


def test_a_corrupt_file_is_one_line(connection, tmp_path: Path) -> None:
    (tmp_path / "verified.parquet").write_bytes(b"not parquet")
    with pytest.raises(BenchmarkError, match=r"^benchmark .*verified\.parquet cannot be read: ") as raised:
        load_benchmark(connection, str(tmp_path / "verified.parquet"), "test")
    assert "\n" not in str(raised.value)

"""The benchmark a build checks its rows against (dbt vars `benchmark`, `benchmark_split`; docs/flags.md).

A dataset in SWE-bench's layout: one row per task with `instance_id`, `repo` ("owner/name") and
`problem_statement`. An existing local path is a Parquet or JSON Lines file, read by DuckDB; anything
else is a Hub dataset id, loaded with `datasets.load_dataset` (its cache and HF_HUB_OFFLINE apply). The
staging model stg_benchmark__instances calls `load_benchmark` before any source row is converted, so a
benchmark that cannot be read, or lacks a column, stops the build first with one line saying why.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow as pa

REQUIRED_COLUMNS = ("instance_id", "repo", "problem_statement")
SCHEMA = pa.schema([(name, pa.string()) for name in REQUIRED_COLUMNS])
# how DuckDB reads a local file, by suffix
READERS = {".parquet": "read_parquet", ".jsonl": "read_json", ".json": "read_json", ".jsonl.gz": "read_json", ".json.gz": "read_json"}


class BenchmarkError(Exception):
    """The benchmark cannot be used: the message says which var, what is wrong and what to do."""


def check_columns(columns: Iterable[str], source: str) -> None:
    """The three columns the overlap check reads must be there (SWE-bench's layout)."""
    missing = [name for name in REQUIRED_COLUMNS if name not in set(columns)]
    if missing:
        raise BenchmarkError(
            f"benchmark {source} has no column {', '.join(missing)}: a benchmark in SWE-bench's layout has "
            f"{', '.join(REQUIRED_COLUMNS)} (set the benchmark var to such a file or Hub dataset id)."
        )


def reader_of(path: Path) -> str:
    """The DuckDB table function for a local benchmark file, from its suffix."""
    for suffix, reader in READERS.items():
        if path.name.endswith(suffix):
            return reader
    raise BenchmarkError(
        f"benchmark {path} is neither Parquet nor JSON Lines ({', '.join(READERS)}): convert it, or give a Hub dataset id."
    )


def read_local(connection: duckdb.DuckDBPyConnection, path: Path) -> pa.Table:
    """A local benchmark file, its three columns as strings."""
    query = f"select * from {reader_of(path)}(?)"
    try:
        columns = [column[0] for column in connection.execute(query + " limit 0", [str(path)]).description]
    except duckdb.Error as err:
        raise BenchmarkError(f"benchmark {path} cannot be read: {str(err).splitlines()[0]}") from None
    check_columns(columns, str(path))
    selected = ", ".join(f"cast({name} as varchar) as {name}" for name in REQUIRED_COLUMNS)
    return connection.sql(f"select {selected} from ({query})", params=[str(path)]).to_arrow_table().cast(SCHEMA)


def read_hub(dataset_id: str, split: str) -> pa.Table:
    """A Hub dataset's split, through `datasets` (cached after the first load; HF_HUB_OFFLINE=1 reads the cache)."""
    import datasets

    try:
        dataset = datasets.load_dataset(dataset_id, split=split)
    except Exception as err:  # noqa: BLE001 - datasets raises many kinds (ConnectionError, DatasetNotFoundError, ValueError ...)
        raise BenchmarkError(
            f"benchmark {dataset_id} is not a local file and cannot be loaded from the Hub with split {split} "
            f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}): fix the benchmark or benchmark_split var."
        ) from None
    check_columns(dataset.column_names, f"{dataset_id} (split {split})")
    return dataset.select_columns(list(REQUIRED_COLUMNS)).with_format("arrow")[:].cast(SCHEMA)


def load_benchmark(connection: duckdb.DuckDBPyConnection, source: str | None, split: str) -> pa.Table:
    """The benchmark's instances (SCHEMA); no row when the benchmark var is not set."""
    if not source:
        return SCHEMA.empty_table()
    path = Path(source).expanduser()
    return read_local(connection, path) if path.is_file() else read_hub(source, split)

"""Writing the deliverable Parquet (spec/output.md): 8 columns, zstd, ordered, atomic.

The file is written to a temporary name beside the target and renamed at the end, so export_path
only ever holds a complete file: the previous good one or the new one. The conversion's folder of
Parquet parts is replaced the same way (replaced_directory).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

EXPORT_COLUMNS = ("messages", "instance_id", "teacher", "scale", "rollout", "func_name", "func_path", "line_level_recall")
# the one-row manifest the export models return (typed, so `filters` is a string column when null)
MANIFEST_SCHEMA = pa.schema([("export_path", pa.string()), ("n_rows", pa.int64()), ("n_bytes", pa.int64()), ("filters", pa.string())])
ROW_GROUP_SIZE_BYTES = "64MB"
ZSTD_LEVEL = 3
TEMP_MARKER = ".tmp-"


def sql_literal(value: Any) -> str:
    """A string or number as a SQL literal (filter values come from dbt vars typed by a user)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return repr(float(value))
    return "'" + str(value).replace("'", "''") + "'"


def export_filters(filters: dict[str, Any]) -> list[str]:
    """WHERE conditions for the export vars teacher, scale, rollout (equality) and min_recall (>=)."""
    conditions = [f"{column} = {sql_literal(filters[column])}" for column in ("teacher", "scale", "rollout") if filters.get(column)]
    if filters.get("min_recall") not in (None, ""):
        conditions.append(f"line_level_recall >= {sql_literal(float(filters['min_recall']))}")
    return conditions


def export_query(relation: str, filters: dict[str, Any], columns: tuple[str, ...] = EXPORT_COLUMNS) -> str:
    """The export's SELECT: the 8 columns (or the SFT export's) in order, every one nullable, rows
    in source order.

    DuckDB writes a column that holds no null as `required`, so the schema would depend on the
    data; `if(x is null, null, x)` keeps each field optional without changing a value. There is no
    ORDER BY: the relation is already in source order (the conversion streams in that order and
    DuckDB preserves insertion order through a filter and projection), and sorting 25 GB of text
    would spill it all to disk once more.
    """
    selected = ",\n    ".join(f"if({c} is null, null, {c}) as {c}" for c in columns)
    where = " and ".join(export_filters(filters)) or "true"
    return f"select\n    {selected}\nfrom {relation}\nwhere {where}"


def remove_stale_temp_files(target: Path) -> None:
    """Temporary files or folders of an earlier, interrupted write (the target itself is never touched)."""
    for stale in target.parent.glob(target.name + TEMP_MARKER + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` to write to; renamed onto target when the block succeeds,
    removed when it fails, so target only ever holds a complete file (the old one or the new one)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    temporary = target.with_name(target.name + TEMP_MARKER + str(os.getpid()))
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def replaced_directory(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `target` to fill; it replaces target when the block succeeds
    and is removed when it fails, so target only ever holds one complete set of parts."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    temporary = target.with_name(target.name + TEMP_MARKER + str(os.getpid()))
    previous = target.with_name(target.name + TEMP_MARKER + "old-" + str(os.getpid()))
    temporary.mkdir()
    try:
        yield temporary
        if target.exists():
            target.rename(previous)
        temporary.rename(target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)


def write_export(
    connection: duckdb.DuckDBPyConnection,
    relation: str,
    export_path: str,
    filters: dict[str, Any],
    columns: tuple[str, ...] = EXPORT_COLUMNS,
) -> dict[str, Any]:
    """Write the export to a temporary file, then rename it onto export_path; return a manifest row
    (MANIFEST_SCHEMA)."""
    target = Path(export_path)
    with atomic_file(target) as temporary:
        connection.execute(
            f"copy ({export_query(relation, filters, columns)}) to {sql_literal(str(temporary))} (format parquet, compression zstd, "
            f"compression_level {ZSTD_LEVEL}, row_group_size_bytes '{ROW_GROUP_SIZE_BYTES}', use_tmp_file false)"
        )
        rows = connection.execute(f"select count(*) from read_parquet({sql_literal(str(temporary))})").fetchall()[0][0]
    return {
        "export_path": str(target),
        "n_rows": rows,
        "n_bytes": target.stat().st_size,
        "filters": " and ".join(export_filters(filters)) or None,
    }

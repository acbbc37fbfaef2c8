"""Writing an export Parquet (spec/output.md): zstd, rows in source order, never half-written.

What goes in the file (columns, order, filters) is SQL: the views of models/exports/ select it. This
module only copies such a view to a temporary file beside the target and renames it there
(atomic.atomic_file), so export_path only ever holds a complete file: the previous good one or the new
one. An export that would hold no row is refused (the previous file stays) unless the build says an
empty file is intended.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from .atomic import atomic_file

EXPORT_COLUMNS = ("messages", "instance_id", "teacher", "scale", "rollout", "func_name", "func_path", "line_level_recall")
# the one-row manifest the export models return (typed, so `filters` is a string column when null)
MANIFEST_SCHEMA = pa.schema([("export_path", pa.string()), ("n_rows", pa.int64()), ("n_bytes", pa.int64()), ("filters", pa.string())])
ROW_GROUP_SIZE_BYTES = "64MB"
ZSTD_LEVEL = 3


class EmptyExport(Exception):
    """The export would hold no row: almost always a filter value that matches nothing."""


def sql_literal(text: str) -> str:
    """A string as a SQL literal (a path, the features JSON)."""
    return "'" + text.replace("'", "''") + "'"


def write_export(
    connection: duckdb.DuckDBPyConnection,
    query: str,
    export_path: str,
    *,
    filters: str | None = None,
    allow_empty: bool = False,
    hf_features: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Copy the rows of `query` (a SELECT, in the export's column order) to export_path through a
    temporary file; return a manifest row (MANIFEST_SCHEMA). `filters` is the SQL the rows were
    selected with, for the manifest and the error message. `hf_features` are the `datasets` features
    of the columns, written as the Parquet key-value metadata `huggingface` that load_dataset reads.

    There is no ORDER BY: the views are already in source order (the conversion writes its parts in
    that order and DuckDB keeps insertion order through filters and projections), and sorting 25 GB of
    text would spill it all to disk once more.
    """
    target = Path(export_path)
    metadata = ""
    if hf_features is not None:
        metadata = f", kv_metadata {{huggingface: {sql_literal(json.dumps({'info': {'features': hf_features}}))}}}"
    with atomic_file(target) as temporary:
        connection.execute(
            f"copy ({query}) to {sql_literal(str(temporary))} (format parquet, compression zstd, "
            f"compression_level {ZSTD_LEVEL}, row_group_size_bytes '{ROW_GROUP_SIZE_BYTES}', use_tmp_file false{metadata})"
        )
        rows = connection.execute(f"select count(*) from read_parquet({sql_literal(str(temporary))})").fetchall()[0][0]
        if rows == 0 and not allow_empty:
            raise EmptyExport(empty_export_message(target, filters))
    return {"export_path": str(target), "n_rows": rows, "n_bytes": target.stat().st_size, "filters": filters}


def empty_export_message(target: Path, filters: str | None) -> str:
    kept = f"{target} is left as it was" if target.exists() else f"nothing was written to {target}"
    if filters:
        return (
            f"the export would hold no row: no converted row has {filters}; {kept}. Check the filter vars "
            "(teacher, scale, rollout, min_recall), or set the var allow_empty_export: true if an empty file is intended."
        )
    return (
        f"the export would hold no row: the build converted no row (see sera_rectified_rejects); {kept}. Set the var "
        "allow_empty_export: true if an empty file is intended."
    )

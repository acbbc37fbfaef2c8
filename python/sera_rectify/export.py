"""Writing an export Parquet (spec/output.md): zstd, rows in source order, never half-written.

What goes in the file (columns, order, filters) is SQL: the views of models/exports/ select it. This
module only copies such a view to a temporary file beside the target and publishes it there
(atomic.atomic_file: a rename locally, a server-side copy on object storage), so export_path only ever
holds a complete file: the previous good one or the new one. An export that would hold no row is refused
(the previous file stays) unless the build says an empty file is intended.

export_path may be an object storage URI (s3://bucket/key, docs/storage.md): DuckDB's COPY writes the
temporary key through the fsspec file system registered on the connection (storage.S3ForDuckDB; dbt's
connection has it from profiles.yml).
"""

from __future__ import annotations

import json
import posixpath
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from . import storage
from .atomic import atomic_file

EXPORT_COLUMNS = ("messages", "instance_id", "teacher", "scale", "rollout", "func_name", "func_path", "line_level_recall")
# the one-row manifest the export models return (typed, so `filters` is a string column when null)
MANIFEST_SCHEMA = pa.schema([("export_path", pa.string()), ("n_rows", pa.int64()), ("n_bytes", pa.int64()), ("filters", pa.string())])
ROW_GROUP_SIZE_BYTES = "64MB"
ZSTD_LEVEL = 3


class EmptyExport(Exception):
    """The export would hold no row: almost always a filter value that matches nothing."""


class ExportWriteError(OSError):
    """DuckDB could not write an export on object storage (the target is unchanged)."""


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
    target = export_path if storage.is_remote(export_path) else str(Path(export_path))
    metadata = ""
    if hf_features is not None:
        metadata = f", kv_metadata {{huggingface: {sql_literal(json.dumps({'info': {'features': hf_features}}))}}}"
    with atomic_file(target) as temporary:
        copy = (
            f"copy ({query}) to {sql_literal(str(temporary))} (format parquet, compression zstd, "
            f"compression_level {ZSTD_LEVEL}, row_group_size_bytes '{ROW_GROUP_SIZE_BYTES}', use_tmp_file false{metadata})"
        )
        if storage.is_remote(target):
            storage.register_filesystems(connection)  # dbt's connection has it from profiles.yml; another profile may not
            copy_to_object_storage(connection, copy, target)
        else:
            connection.execute(copy)
        rows = connection.execute(f"select count(*) from read_parquet({sql_literal(str(temporary))})").fetchall()[0][0]
        if rows == 0 and not allow_empty:
            raise EmptyExport(empty_export_message(target, filters))
    return {"export_path": target, "n_rows": rows, "n_bytes": storage.size_of(target), "filters": filters}


def copy_to_object_storage(connection: duckdb.DuckDBPyConnection, copy: str, target: str) -> None:
    """Run a COPY to a temporary key. An error of the file system there reaches Python as a bare
    duckdb.Error holding the Python traceback: it becomes one readable line (its last) naming the
    target, what was kept and what to check. Errors of the query itself (a DuckDB subclass) pass as they are."""
    try:
        connection.execute(copy)
    except duckdb.Error as error:
        if type(error) is not duckdb.Error:
            raise
        reason = str(error).strip().splitlines()[-1]
        raise ExportWriteError(
            f"could not write the export {target}: {reason}; {target} is left as it was. Check that the bucket exists and that the "
            f"credentials (AWS_ACCESS_KEY_ID / AWS_PROFILE) may write (s3:PutObject) under {posixpath.dirname(target)}/, "
            "or set the export path to a local file."
        ) from error


def empty_export_message(target: str, filters: str | None) -> str:
    kept = f"{target} is left as it was" if storage.exists(target) else f"nothing was written to {target}"
    if filters:
        return (
            f"the export would hold no row: no converted row has {filters}; {kept}. Check the filter vars "
            "(teacher, scale, rollout, min_recall), or set the var allow_empty_export: true if an empty file is intended."
        )
    return (
        f"the export would hold no row: the build converted no row (see sera_rectified_rejects); {kept}. Set the var "
        "allow_empty_export: true if an empty file is intended."
    )

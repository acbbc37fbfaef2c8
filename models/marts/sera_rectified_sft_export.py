"""One row: the SFT-ready Parquet (OpenAI chat format) written beside the main export.

The same rows, filters and order as sera_rectified_export (export.export_query), streamed from
DuckDB in record batches, converted by sera_rectify.sft and written to a temporary file that is
renamed at the end. Runs after the data tests of sera_rectified pass, like the main export.
"""

import pyarrow as pa

from sera_rectify.sft import MANIFEST_SCHEMA, default_sft_path, write_sft_export


def model(dbt, session):
    dbt.config(materialized="table")
    rows = dbt.ref("sera_rectified")
    filters = {
        "teacher": dbt.config.get("teacher"),
        "scale": dbt.config.get("scale"),
        "rollout": dbt.config.get("rollout"),
        "min_recall": dbt.config.get("min_recall"),
    }
    path = dbt.config.get("sft_export_path") or default_sft_path(dbt.config.get("export_path"))
    manifest = write_sft_export(session, f"({rows.sql_query()}) as sera_rectified", path, filters)
    return pa.Table.from_pylist([manifest], schema=MANIFEST_SCHEMA)

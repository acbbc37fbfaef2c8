"""One row: the Parquet written to export_path (spec/output.md), with its row count and filters.

Runs after the data tests of sera_rectified pass (dbt build skips it when one fails), so a bad
build never replaces a good file.
"""

import pyarrow as pa

from sera_rectify.export import MANIFEST_SCHEMA, write_export


def model(dbt, session):
    dbt.config(materialized="table")
    rows = dbt.ref("sera_rectified")
    # each key spelled out: dbt hands a Python model only the config keys it finds in
    # dbt.config.get("...") calls (a shared helper taking dbt.config.get loses the filters)
    filters = {
        "teacher": dbt.config.get("teacher"),
        "scale": dbt.config.get("scale"),
        "rollout": dbt.config.get("rollout"),
        "min_recall": dbt.config.get("min_recall"),
    }
    manifest = write_export(session, f"({rows.sql_query()}) as sera_rectified", dbt.config.get("export_path"), filters)
    return pa.Table.from_pylist([manifest], schema=MANIFEST_SCHEMA)

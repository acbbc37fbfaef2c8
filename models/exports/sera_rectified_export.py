"""One row: the Parquet written to export_path (spec/output.md), with its row count and filters.

The rows, columns and filters are the view sera_rectified_filtered's; this model only writes them
(sera_rectify.export). In `dbt build` it runs after the data tests of sera_rectified pass, so a bad
build never replaces a good file.
"""

import pyarrow as pa

from sera_rectify.export import MANIFEST_SCHEMA, write_export


def model(dbt, session):
    dbt.config(materialized="table")
    rows = dbt.ref("sera_rectified_filtered")
    # a ref of its own line: dbt finds a Python model's dependencies in plain dbt.ref("...") calls
    export_filters = dbt.ref("export_filters")
    filters = export_filters.to_arrow_table().column("filters")[0].as_py()
    export_path = dbt.config.get("export_path")
    allow_empty = dbt.config.get("allow_empty_export")
    manifest = write_export(session, rows.sql_query(), export_path, filters=filters, allow_empty=allow_empty)
    return pa.Table.from_pylist([manifest], schema=MANIFEST_SCHEMA)

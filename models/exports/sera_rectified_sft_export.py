"""One row: the SFT-ready Parquet (OpenAI chat format) written beside the main export.

The rows are the view sera_rectified_sft_filtered's (the main export's rows, filters and order),
written by the same code as the main export. It refs sera_rectified, so it runs only after that
model's data tests pass, and sera_rectified_export, so the two exports run one after the other
(side by side they were the build's memory peak, docs/benchmark.md).
"""

import pyarrow as pa

from sera_rectify.export import MANIFEST_SCHEMA, write_export
from sera_rectify.sft import SFT_FEATURES, default_sft_path


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("sera_rectified")
    dbt.ref("sera_rectified_export")
    rows = dbt.ref("sera_rectified_sft_filtered")
    # a ref of its own line: dbt finds a Python model's dependencies in plain dbt.ref("...") calls
    export_filters = dbt.ref("export_filters")
    filters = export_filters.to_arrow_table().column("filters")[0].as_py()
    # each config key read in a statement of its own: dbt hands a Python model only the keys it
    # finds in plain dbt.config.get("...") calls, not in ones nested in other expressions
    export_path = dbt.config.get("export_path")
    sft_export_path = dbt.config.get("sft_export_path")
    allow_empty = dbt.config.get("allow_empty_export")
    path = sft_export_path or default_sft_path(export_path)
    manifest = write_export(session, rows.sql_query(), path, filters=filters, allow_empty=allow_empty, hf_features=SFT_FEATURES)
    return pa.Table.from_pylist([manifest], schema=MANIFEST_SCHEMA)

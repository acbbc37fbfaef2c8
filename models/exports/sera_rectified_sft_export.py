"""One row: the SFT-ready Parquet (OpenAI chat format) written beside the main export.

The rows of sera_rectified_sft (the main export's rows in OpenAI format) with the tool schemas as
a `tools` column, through the same filters, order and atomic write as sera_rectified_export
(export.write_export). Refers to sera_rectified too, so it runs only after that model's data tests
pass, like the main export; and to sera_rectified_export, so the two exports run one after the
other: side by side they were no faster and held twice the memory (the build's peak).
"""

import pyarrow as pa

from sera_rectify.export import MANIFEST_SCHEMA, sql_literal, write_export
from sera_rectify.sft import SFT_COLUMNS, default_sft_path, tools_json


def model(dbt, session):
    dbt.config(materialized="table")
    dbt.ref("sera_rectified")
    dbt.ref("sera_rectified_export")
    rows = dbt.ref("sera_rectified_sft")
    # each key spelled out: dbt hands a Python model only the config keys it finds in
    # dbt.config.get("...") calls (a shared helper taking dbt.config.get loses the filters)
    filters = {
        "teacher": dbt.config.get("teacher"),
        "scale": dbt.config.get("scale"),
        "rollout": dbt.config.get("rollout"),
        "min_recall": dbt.config.get("min_recall"),
    }
    path = dbt.config.get("sft_export_path") or default_sft_path(dbt.config.get("export_path"))
    relation = f"(select *, {sql_literal(tools_json())} as tools from ({rows.sql_query()})) as sera_rectified_sft"
    manifest = write_export(session, relation, path, filters, SFT_COLUMNS)
    return pa.Table.from_pylist([manifest], schema=MANIFEST_SCHEMA)

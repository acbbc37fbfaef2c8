"""One row: the Hugging Face dataset card (README.md) written beside the export, from this build's numbers,
and with a tokenizer its picture of the token counts (token_histogram.png).

Runs after both exports (it refs their manifests), so the card's configs name files that exist; the
numbers come from the marts (dataset_summary, source_reconciliation, reject_summary, token_summary,
token_histogram, flag_summary) and the build's tokenizer and filters through session SQL. Rendering is
sera_rectify.card's (templates/dataset_card.md.jinja), the same as `python -m sera_rectify card`.
"""

import pyarrow as pa

from sera_rectify.card import write_build_card


def model(dbt, session):
    dbt.config(materialized="table")
    # each ref on its own line: dbt finds a Python model's dependencies in plain dbt.ref("...") calls
    export_manifest = dbt.ref("sera_rectified_export")
    sft_manifest = dbt.ref("sera_rectified_sft_export")
    relations = {
        "dataset_summary": dbt.ref("dataset_summary"),
        "source_reconciliation": dbt.ref("source_reconciliation"),
        "reject_summary": dbt.ref("reject_summary"),
        "token_summary": dbt.ref("token_summary"),
        "token_histogram": dbt.ref("token_histogram"),
        "stg_training__tokenizer": dbt.ref("stg_training__tokenizer"),
        "export_filters": dbt.ref("export_filters"),
        "flag_summary": dbt.ref("flag_summary"),
    }
    export = export_manifest.to_arrow_table().to_pylist()[0]
    sft = sft_manifest.to_arrow_table().to_pylist()[0]
    manifest = write_build_card(
        session,
        {name: f"({relation.sql_query()})" for name, relation in relations.items()},
        export_path=export["export_path"],
        export_rows=export["n_rows"],
        filters=export["filters"],
        sft_path=sft["export_path"],
        sft_rows=sft["n_rows"],
    )
    return pa.Table.from_pylist([manifest | {"export_rows": export["n_rows"], "sft_rows": sft["n_rows"]}])

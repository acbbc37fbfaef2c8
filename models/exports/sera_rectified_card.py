"""One row: the Hugging Face dataset card (README.md) written beside the export, from this build's numbers.

Runs after both exports (it refs their manifests), so the card's configs name files that exist; the
numbers come from the marts dataset_summary, source_reconciliation and reject_summary through session
SQL. Rendering is sera_rectify.card's (templates/dataset_card.md.jinja), the same as `python -m sera_rectify card`.
"""

import pyarrow as pa

from sera_rectify.card import write_build_card


def model(dbt, session):
    dbt.config(materialized="table")
    # each ref spelled out: dbt finds a Python model's dependencies in its dbt.ref("...") calls
    export = dbt.ref("sera_rectified_export").to_arrow_table().to_pylist()[0]
    sft = dbt.ref("sera_rectified_sft_export").to_arrow_table().to_pylist()[0]
    relations = {
        "dataset_summary": dbt.ref("dataset_summary"),
        "source_reconciliation": dbt.ref("source_reconciliation"),
        "reject_summary": dbt.ref("reject_summary"),
    }
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

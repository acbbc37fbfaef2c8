"""One row: the Hugging Face dataset card (README.md) written beside the export, from this build's numbers.

Runs after both exports (it refs their manifests), so the card's configs name files that exist; the
numbers come from the build's tables through session SQL. Rendering is sera_rectify.card's, the same
as `python -m sera_rectify card`.
"""

import pyarrow as pa

from sera_rectify.card import card_numbers, card_path_for, render_card, write_card


def model(dbt, session):
    dbt.config(materialized="table")
    # each ref spelled out: dbt finds a Python model's dependencies in its dbt.ref("...") calls
    export = dbt.ref("sera_rectified_export").to_arrow_table().to_pylist()[0]
    sft = dbt.ref("sera_rectified_sft_export").to_arrow_table().to_pylist()[0]
    relations = {
        "dataset_summary": dbt.ref("dataset_summary"),
        "source_reconciliation": dbt.ref("source_reconciliation"),
        "sera_rectified_rejects": dbt.ref("sera_rectified_rejects"),
        "stg_sera__datasets": dbt.ref("stg_sera__datasets"),
        "reject_reasons": dbt.ref("reject_reasons"),
    }
    path = card_path_for(export["export_path"])
    numbers = card_numbers(
        session,
        {name: f"({relation.sql_query()})" for name, relation in relations.items()},
        card_path=str(path),
        export_path=export["export_path"],
        export_rows=export["n_rows"],
        filters=export["filters"],
        sft_path=sft["export_path"],
        sft_rows=sft["n_rows"],
    )
    manifest = write_card(render_card(numbers), path)
    return pa.Table.from_pylist([manifest | {"export_rows": export["n_rows"], "sft_rows": sft["n_rows"]}])

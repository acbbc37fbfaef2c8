"""One row per source row: the converted trajectory with its statistics, or the reject reason.

The rules are in the sera_rectify package (spec/conversion.md); this model only streams the
listed files through it, in order, as Arrow record batches, and logs progress to the dbt log.
"""

from dbt.adapters.events.logging import AdapterLogger

from sera_rectify.pipeline import converted_reader


def model(dbt, session):
    dbt.config(materialized="table")
    files = (
        dbt.ref("stg_sera__source_files")
        .join(dbt.ref("stg_sera__datasets").set_alias("datasets"), "source_dataset")
        .order("dataset_order, source_file")
    )
    return converted_reader(files.to_arrow_table().to_pylist(), report=AdapterLogger("sera_rectify").info)

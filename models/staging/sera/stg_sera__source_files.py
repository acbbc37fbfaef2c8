"""One row per data file of the selected datasets: where it is, its format and its row count.

Listing and counting are Python because the layout contract (spec/sources.md) follows symlinks,
skips dot-folders and sorts by path, which DuckDB's glob does not.
"""

from sera_rectify.sources import source_file_manifest


def model(dbt, session):
    dbt.config(materialized="table")
    # a tokenizer that cannot be used stops the build before the files are counted
    dbt.ref("stg_training__tokenizer")
    datasets = dbt.ref("stg_sera__datasets").order("dataset_order").to_arrow_table().to_pylist()
    return source_file_manifest(datasets)

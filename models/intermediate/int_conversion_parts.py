"""One row per Parquet part written by the conversion: the source rows it holds and its size.

The rules are in the sera_rectify package (spec/conversion.md); this model only streams the listed
files through it, in order, and logs progress to the dbt log. Worker processes write the converted
rows as numbered Parquet parts into the `converted_dir` folder (replaced as a whole when the
conversion succeeds); int_trajectories_converted is the view that reads them. With `engine: ray` (or
the env SERA_ENGINE=ray) the same work runs as Ray tasks (sera_rectify.ray_engine).
"""

from dbt.adapters.events.logging import AdapterLogger

from sera_rectify.parts import beside_database, build_parts
from sera_rectify.tokens import TokenizerSpec, TokenSettings


def model(dbt, session):
    dbt.config(materialized="table")
    files = (
        dbt.ref("stg_sera__source_files")
        .join(dbt.ref("stg_sera__datasets").set_alias("datasets"), "source_dataset")
        .order("dataset_order, source_file")
    )
    converted_dir = dbt.config.get("converted_dir")
    engine = dbt.config.get("engine")
    parts_dir = converted_dir or beside_database(session, "_converted")
    dbt.ref("stg_benchmark__instances")  # loaded and checked before any row is converted (docs/flags.md)
    tokenizers = dbt.ref("stg_training__tokenizer")  # its own line: dbt finds refs in plain dbt.ref() calls
    tokenizer = tokenizers.to_arrow_table().to_pylist()[0]
    tokens = (
        TokenSettings.prepare(TokenizerSpec(tokenizer["tokenizer"], tokenizer["chat_template"]), tokenizer["token_cache_dir"])
        if tokenizer["tokenizer"]
        else None
    )
    report = AdapterLogger("sera_rectify").info
    return build_parts(files.to_arrow_table().to_pylist(), parts_dir, report=report, tokens=tokens, engine=engine)

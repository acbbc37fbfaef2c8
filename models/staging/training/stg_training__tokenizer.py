"""One row: the tokenizer and chat template the build counts tokens with (vars tokenizer, chat_template),
or nulls when the tokenizer var is not set.

Loading it here, before any source file is read (stg_sera__source_files depends on this model), makes
a tokenizer that cannot be used an error before any work: an unknown name, a folder without tokenizer
files, no chat template. The conversion reads what to load from this row.
"""

import pyarrow as pa

from sera_rectify.parts import beside_database
from sera_rectify.tokens import TokenizerSpec, TokenSettings, resolve

SCHEMA = pa.schema(
    [
        ("tokenizer", pa.string()),
        ("chat_template", pa.string()),
        ("fingerprint", pa.string()),
        ("description", pa.string()),
        ("token_cache_dir", pa.string()),
    ]
)


def model(dbt, session):
    dbt.config(materialized="table")
    tokenizer = dbt.config.get("tokenizer")
    chat_template = dbt.config.get("chat_template")
    token_cache_dir = dbt.config.get("token_cache_dir")
    if not tokenizer:
        return pa.Table.from_pylist([{}], schema=SCHEMA)
    spec = TokenizerSpec(tokenizer, chat_template)
    cache_dir = token_cache_dir or beside_database(session, "_token_counts")
    TokenSettings.prepare(spec, cache_dir)  # a tokenizer that cannot be used is an error here
    _, fingerprint, description = resolve(spec)
    row = {
        "tokenizer": tokenizer,
        "chat_template": chat_template,
        "fingerprint": fingerprint,
        "description": description,
        "token_cache_dir": cache_dir,
    }
    return pa.Table.from_pylist([row], schema=SCHEMA)

"""One row per tool of spec/tools.json: its position, name and JSON schema.

The package holds the contract's tools.json (sera_rectify.spec); SQL reads the tools here instead of a
second list: the tool-call data test checks names against it, the SFT export builds its `tools` column
from it.
"""

import json

import pyarrow as pa

from sera_rectify.spec import tool_schemas


def model(dbt, session):
    dbt.config(materialized="table")
    return pa.table(
        {
            "tool_position": list(range(len(tool_schemas()))),
            "tool_name": [tool["function"]["name"] for tool in tool_schemas()],
            "tool_schema": [json.dumps(tool, ensure_ascii=False) for tool in tool_schemas()],
        }
    )

"""The dbt data tests assert_role_sequence_is_valid.sql and assert_tool_calls_are_valid.sql (tests/data/),
run on crafted rows in DuckDB.

They are the independent SQL re-check of spec/conversion.md §6; here together they must flag each kind
of broken trajectory (so they can fail) and pass the converter's real output.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import jinja2
import pytest

from sera_rectify.convert import Converted, convert_trajectory
from sera_rectify.render import sera_tools
from sera_testkit.constants import REPO, SERA_ROWS_DATASET

TEST_SQLS = [REPO / "tests" / "data" / name for name in ("assert_role_sequence_is_valid.sql", "assert_tool_calls_are_valid.sql")]

GOOD = [
    {"role": "system", "content": "s"},
    {"role": "user", "content": "u"},
    {"role": "reasoning", "content": "<think>r</think>"},
    {"role": "tool_call", "content": '<tool_call>{"name": "bash", "arguments": {"command": "ls"}}</tool_call>'},
    {"role": "tool_output", "content": "<tool_response>x</tool_response>"},
    {"role": "reasoning", "content": "<think>r</think>"},
    {"role": "answer", "content": "<answer>d</answer>"},
]


def with_message(index: int, message: dict) -> str:
    messages = [dict(m) for m in GOOD]
    messages[index] = message
    return json.dumps(messages)


def tool_call(inner: str) -> dict:
    return {"role": "tool_call", "content": f"<tool_call>{inner}</tool_call>"}


BROKEN = {
    "not JSON": ("[{", "not valid JSON"),
    "null": (None, "not valid JSON"),
    "an escape JSON does not have": (json.dumps(GOOD).replace('"u"', '"\\x41"', 1), "not valid JSON"),
    "a short unicode escape": (json.dumps(GOOD).replace('"u"', '"\\u00e"', 1), "not valid JSON"),
    "a raw control character": (json.dumps(GOOD).replace('"u"', '"a\tb"', 1), "not valid JSON"),
    "an object": ('{"role": "system"}', "rendered as"),
    "compact separators": (json.dumps(GOOD, separators=(",", ":")), "rendered as"),
    "keys in content, role order": (json.dumps([{"content": m["content"], "role": m["role"]} for m in GOOD]), "rendered as"),
    "empty list": ("[]", "rendered as"),
    "tool_output where an answer goes": (json.dumps(GOOD[:4] + [GOOD[6]] + GOOD[5:]), "rendered as"),
    "no answer at the end": (json.dumps(GOOD[:6]), "rendered as"),
    "user first": (json.dumps(GOOD[1:2] + GOOD[:1] + GOOD[2:]), "rendered as"),
    "empty reasoning": (with_message(2, {"role": "reasoning", "content": "<think></think>"}), "rendered as"),
    "tool output without tags": (with_message(4, {"role": "tool_output", "content": "x"}), "rendered as"),
    "extra key": (with_message(1, {"role": "user", "content": "u", "x": 1}), "rendered as"),
    "content not a string": (with_message(1, {"role": "user", "content": 5}), "rendered as"),
    "unknown tool": (with_message(3, tool_call('{"name": "rm", "arguments": {}}')), "a tool_call is not {name, arguments}"),
    "arguments a list": (with_message(3, tool_call('{"name": "bash", "arguments": [1]}')), "a tool_call is not {name, arguments}"),
    "keys in the wrong order": (with_message(3, tool_call('{"arguments": {}, "name": "bash"}')), "a tool_call is not {name, arguments}"),
    "tool call not JSON": (with_message(3, tool_call('{"name": ')), "a tool_call is not JSON"),
}


def render_test_sql(path: Path) -> str:
    """A dbt test as dbt would compile it: ref() to the table of that name."""
    return jinja2.Environment().from_string(path.read_text()).render(ref=lambda name: name)


def failing_rows(messages: list[str | None], tools: str | None = None) -> dict[int, str]:
    """The rows the two SQL tests flag, each row declaring `tools` (SERA's tools.json by default)."""
    with duckdb.connect() as connection:
        connection.execute(
            "create table sera_rectified (source_dataset varchar, source_file varchar, source_row bigint, messages varchar, tools varchar)"
        )
        rows = [(index, text, tools or sera_tools().schemas_json) for index, text in enumerate(messages)]
        connection.executemany("insert into sera_rectified values ('d', 'f', ?, ?, ?)", rows)
        return {row: problem for path in TEST_SQLS for _, _, row, problem in connection.execute(render_test_sql(path)).fetchall()}


def test_a_valid_trajectory_passes() -> None:
    assert failing_rows([json.dumps(GOOD)]) == {}


@pytest.mark.parametrize("case", BROKEN)
def test_each_broken_trajectory_is_flagged(case: str) -> None:
    messages, expected = BROKEN[case]
    problems = failing_rows([json.dumps(GOOD), messages])
    assert list(problems) == [1]
    assert expected in problems[1]


def test_a_call_is_checked_against_its_own_rows_tools() -> None:
    """A mixed build: `rm` is a tool of the second row's source (its own `tools`), not of SERA's."""
    own_tools = json.dumps([{"type": "function", "function": {"name": "rm", "parameters": {}}}])
    call_to_rm = with_message(3, tool_call('{"name": "rm", "arguments": {}}'))
    assert failing_rows([call_to_rm], tools=own_tools) == {}
    assert list(failing_rows([json.dumps(GOOD)], tools=own_tools)) == [0]  # bash is not among rm's tools


def test_the_converter_output_on_real_rows_passes(sera_rows: list[dict]) -> None:
    converted = [convert_trajectory(row["messages"], dataset=SERA_ROWS_DATASET, instance_id=row["instance_id"], rollout_patch=row["rollout_patch"]) for row in sera_rows]
    assert all(isinstance(c, Converted) for c in converted)
    assert failing_rows([c.messages for c in converted]) == {}

"""jsontext: strict parsing, and the fast string encoder that must equal stdlib json byte for byte."""

from __future__ import annotations

import json
import random

import pytest

from sera_rectify import jsontext
from sera_rectify.render import dump_messages


def test_dumps_string_equals_stdlib_json_for_every_code_point() -> None:
    every = [chr(cp) for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
    assert [jsontext.dumps_string(c) for c in every] == [json.dumps(c, ensure_ascii=False) for c in every]


def test_dumps_string_falls_back_to_stdlib_for_lone_surrogates() -> None:
    assert jsontext.dumps_string("a\ud83db") == json.dumps("a\ud83db", ensure_ascii=False)


def test_dump_messages_equals_json_dumps_on_random_message_lists() -> None:
    rng = random.Random(5)
    alphabet = 'ab"\\\n\r\t\x00\x1f\x7f é中😀\u2028{}[],:' + "\ud800"
    for _ in range(500):
        messages = [
            {"role": rng.choice(["system", "user", "reasoning", "tool_call"]), "content": "".join(rng.choices(alphabet, k=rng.randint(0, 40)))}
            for _ in range(rng.randint(0, 6))
        ]
        assert dump_messages(messages) == json.dumps(messages, ensure_ascii=False)


def test_dumps_object_equals_json_dumps_on_any_object() -> None:
    values = [
        {"command": "view", "view_range": [1, -1], "flag": True, "n": 2.5, "none": None, "nested": {"k": ["x", {"y": "z\u00e9"}]}},
        {1: "int key"},
        {},
        {"path": "/testbed/x.py", "file_text": 'line "one"\n\tline two é😀'},
        {"n": 1e16},
    ]
    for value in values:
        assert jsontext.dumps_object(value) == json.dumps(value, ensure_ascii=False)


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "{", "[1,]", ""])
def test_loads_refuses_what_is_not_json(text: str) -> None:
    with pytest.raises(ValueError):
        jsontext.loads(text)


def test_loads_accepts_lone_surrogate_escapes() -> None:
    assert jsontext.loads('["\\ud83d"]') == ["\ud83d"]


def test_loads_exact_keeps_big_integers_and_floats_as_stdlib_json_does() -> None:
    for text in ['{"n": 1000000000000000000000000000000}', '{"n": -9223372036854775809, "f": 0.1}', '{"a": [1, -0.0, 1e300]}', '"\\ud83d"']:
        assert jsontext.loads_exact(text) == json.loads(text)
        assert json.dumps(jsontext.loads_exact(text)) == json.dumps(json.loads(text))
    with pytest.raises(ValueError):
        jsontext.loads_exact('{"n": NaN}')


def test_big_integers_in_object_arguments_of_a_messages_string_stay_exact() -> None:
    """The messages text is parsed fast (orjson), which reads 10**30 as 1e+30; arguments given as an
    object are written back, so a float there sends the row through the exact parse."""
    from sera_rectify.convert import Converted, convert_trajectory

    def call(name: str, arguments: dict) -> dict:
        return {"role": "assistant", "content": "<think>r</think>", "tool_calls": [{"id": "a", "function": {"name": name, "arguments": arguments}}]}

    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        call("bash", {"command": "ls", "n": 10**30, "f": 1.5}),
        {"role": "tool", "content": "out"},
        call("submit", {}),
        {"role": "tool", "content": "diff"},
    ]
    result = convert_trajectory(json.dumps(messages), dataset="d", instance_id="i", rollout_patch=None)
    assert isinstance(result, Converted)
    tool_call = next(m["content"] for m in json.loads(result.messages) if m["role"] == "tool_call")
    assert tool_call == '<tool_call>{"name": "bash", "arguments": {"command": "ls", "n": 1000000000000000000000000000000, "f": 1.5}}</tool_call>'


def test_big_integers_in_tool_arguments_stay_exact() -> None:
    from sera_rectify.convert import parse_tool_arguments
    from sera_rectify.render import render_tool_call, tool_call

    arguments = parse_tool_arguments('{"n": 1000000000000000000000000000000, "m": -9223372036854775809}', 3)
    assert render_tool_call(tool_call("bash", arguments)) == '<tool_call>{"name": "bash", "arguments": {"n": 1000000000000000000000000000000, "m": -9223372036854775809}}</tool_call>'


def test_a_number_too_large_for_a_double_is_not_json_we_can_keep() -> None:
    with pytest.raises(ValueError, match="too large"):
        jsontext.loads('{"a": 1e400}')

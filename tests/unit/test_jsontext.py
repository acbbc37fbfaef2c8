"""jsontext: strict parsing, and the fast string encoder that must equal stdlib json byte for byte."""

from __future__ import annotations

import json
import random

import pytest

from sera_rectify import jsontext
from sera_rectify.convert import dump_messages


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


def test_big_integers_in_tool_arguments_stay_exact() -> None:
    from sera_rectify.convert import parse_tool_arguments, render_tool_call

    arguments = parse_tool_arguments('{"n": 1000000000000000000000000000000, "m": -9223372036854775809}', 3)
    assert render_tool_call("bash", arguments) == '<tool_call>{"name": "bash", "arguments": {"n": 1000000000000000000000000000000, "m": -9223372036854775809}}</tool_call>'


def test_a_number_too_large_for_a_double_is_not_json_we_can_keep() -> None:
    with pytest.raises(ValueError, match="too large"):
        jsontext.loads('{"a": 1e400}')

"""Unit tests of the conversion rules (../shared/spec/conversion.md), one group per rule function.

Section numbers (§1..§6) refer to conversion.md; "sources.md" is ../shared/spec/sources.md. The inputs are
SWE-agent histories shaped like the real SERA rows (tests/conftest.py, `SeraHistory`).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from sera_rectify import convert as C
from sera_rectify import reasons, sources
from sera_rectify import render as R
from sera_rectify.convert import Converted, Reject, Rejected, Step, TextOnly, convert_trajectory
from sera_rectify.render import sera_tools
from sera_testkit.constants import COST_LIMIT_EXIT, EMPTY_OUTPUT, OBSERVATION, PACKAGE_SPEC_DIR, SERA_SYSTEM, SHARED_DIR
from sera_testkit.constants import SERA_ROWS_DATASET as DATASET

# The history builders come from tests/conftest.py through the `H` fixture (conftest is not imported:
# several conftest.py files may exist, and their module names clash).
# OBSERVATION, EMPTY_OUTPUT and SERA_SYSTEM are the sources.md texts: SWE-agent's label on tool output, its
# text for a command without output, SERA's system prompt.
INSTANCE = "tinydb_10309"
PATCH = "diff --git a/tinydb/storages.py b/tinydb/storages.py\n--- a/tinydb/storages.py\n+++ b/tinydb/storages.py\n@@ -1 +1 @@\n-a\n+b\n"


# ---------------------------------------------------------------------------------------------
# helpers


def expected_system(source_system: str) -> str:
    """§5: system-prompt.txt with {tools_json} and {source_system} replaced literally (computed by hand)."""
    template = (PACKAGE_SPEC_DIR / "system-prompt.txt").read_bytes().decode("utf-8")
    tools = json.loads((PACKAGE_SPEC_DIR / "tools.json").read_bytes().decode("utf-8"))
    before_tools, after_tools = template.split("{tools_json}")
    before_source, after_source = after_tools.split("{source_system}")
    return before_tools + json.dumps(tools, ensure_ascii=False) + before_source + source_system + after_source


def templates() -> list[str]:
    return (PACKAGE_SPEC_DIR / "reasoning-templates.txt").read_bytes().decode("utf-8").splitlines()


def my_template_index(dataset: str, instance_id: str | None, position: int) -> int:
    """§4, written out from the spec's words."""
    key = f"{dataset}\n{'' if instance_id is None else instance_id}\n{position}"
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16) % 12


def convert(messages: Any, *, dataset: str = DATASET, instance_id: str | None = INSTANCE, rollout_patch: str | None = PATCH) -> Converted | Reject:
    return convert_trajectory(messages, dataset=dataset, instance_id=instance_id, rollout_patch=rollout_patch)


def converted(messages: Any, **kwargs: Any) -> Converted:
    """Convert and check what holds for every output row (§5, §6)."""
    result = convert(messages, **kwargs)
    assert isinstance(result, Converted), result
    out = json.loads(result.messages)
    assert result.messages == json.dumps(out, ensure_ascii=False)
    assert result.n_messages == len(out) == 3 * result.n_tool_calls + 4
    assert [m["role"] for m in out] == ["system", "user"] + ["reasoning", "tool_call", "tool_output"] * result.n_tool_calls + ["reasoning", "answer"]
    assert all(list(m) == ["role", "content"] for m in out)
    return result


def out_of(result: Converted) -> list[dict]:
    return json.loads(result.messages)


def contents(result: Converted, role: str) -> list[str]:
    return [m["content"] for m in out_of(result) if m["role"] == role]


def rejected(messages: Any, reason: str, index: int | None = None, **kwargs: Any) -> Reject:
    result = convert(messages, **kwargs)
    assert isinstance(result, Reject), f"expected reject {reason}, got a converted row"
    assert result.reason == reason, result
    if index is not None:
        assert names_index(result.detail, index), f"detail {result.detail!r} does not name message {index}"
    return result


def names_index(detail: str, index: int) -> bool:
    return re.search(rf"(?<![0-9]){index}(?![0-9])", detail) is not None


def raises(reason: str, function: Callable, *args: Any) -> Rejected:
    with pytest.raises(Rejected) as info:
        function(*args)
    assert info.value.reason == reason
    return info.value


# ---------------------------------------------------------------------------------------------
# Every reject reason, each hit by a minimal input; the set of reasons hit equals REJECT_REASONS.


@dataclass(frozen=True)
class Case:
    name: str
    reason: str
    make: Callable[[], Any]  # bytes: a JSON Lines line for sources.parse_line; else the `messages` value
    index: int | None = None  # the 0-based message index the detail must name


def _line(row: dict) -> bytes:
    return json.dumps(row).encode("utf-8") + b"\n"


def _row_line(H: Any) -> bytes:
    return _line({"messages": json.dumps(H.minimal()), "instance_id": INSTANCE, "rollout_patch": PATCH})


def _with(messages: list[dict], index: int, **changes: Any) -> list[dict]:
    messages[index].update(changes)
    return messages


REJECT_CASES = [
    # sources.md, "Bad lines and bad files" (real bytes through sources.parse_line)
    Case("invalid utf-8 byte", reasons.LINE_NOT_UTF8, lambda H: _row_line(H).replace(b"tinydb_10309", b"tinydb_\xff10309")),
    Case("truncated json", reasons.LINE_NOT_JSON, lambda H: _row_line(H)[:-40]),
    Case("json array line", reasons.LINE_NOT_AN_OBJECT, lambda H: b"[1, 2, 3]\n"),
    # §1
    Case("messages null", reasons.MESSAGES_MISSING, lambda H: None),
    Case("messages empty string", reasons.MESSAGES_MISSING, lambda H: ""),
    Case("messages not json", reasons.MESSAGES_NOT_JSON, lambda H: json.dumps(H.minimal())[:-3]),
    Case("messages a json object", reasons.MESSAGES_NOT_A_LIST, lambda H: json.dumps({"role": "system"})),
    Case("messages empty list", reasons.MESSAGES_EMPTY, lambda H: "[]"),
    Case("role function", reasons.UNKNOWN_ROLE, lambda H: _with(H.minimal(), 3, role="function"), 3),
    Case("image part", reasons.UNSUPPORTED_CONTENT_PART, lambda H: _with(H.minimal(), 1, content=[{"type": "image_url", "image_url": {"url": "x"}}]), 1),
    Case("no system first", reasons.BAD_PREAMBLE, lambda H: H.minimal()[1:], 0),
    Case("second user", reasons.UNEXPECTED_USER_MESSAGE, lambda H: H.history(H.call(), [H.user("more")], H.submit()), 4),
    Case("second system", reasons.UNEXPECTED_SYSTEM_MESSAGE, lambda H: H.history(H.call(), [H.system()], H.submit()), 4),
    # §2
    Case("two calls", reasons.PARALLEL_TOOL_CALLS, lambda H: H.history(H.call(), H.call(extra_calls=1), H.submit()), 4),
    Case("unknown tool", reasons.UNKNOWN_TOOL, lambda H: H.history(H.call("find_file", {"file_name": "x.py"}), H.submit()), 2),
    Case("list arguments", reasons.MALFORMED_TOOL_ARGUMENTS, lambda H: H.history(H.call(raw_arguments='["ls"]'), H.submit()), 2),
    Case("no tool output", reasons.MISSING_TOOL_OUTPUT, lambda H: H.history(H.call(output=None), H.call(), H.submit()), 2),
    Case("orphan tool output", reasons.ORPHAN_TOOL_OUTPUT, lambda H: H.history([H.tool(OBSERVATION + "x", "call_1")], H.call(), H.submit()), 2),
    # §3
    Case("exit due to cost limit", reasons.NOT_SUBMITTED, lambda H: H.history(H.call(), H.submit(), H.call(), H.text_only(COST_LIMIT_EXIT)), 6),
]


@pytest.mark.parametrize("case", REJECT_CASES, ids=lambda case: f"{case.reason}-{case.name}")
def test_reject_reason_is_hit(case: Case, H: Any) -> None:
    value = case.make(H)
    if isinstance(value, bytes):
        result = sources.parse_line(value)
        assert isinstance(result, sources.LineReject), result
        assert result.reason == case.reason
        return
    rejected(value, case.reason, case.index)


def test_every_reject_reason_is_hit_by_the_suite() -> None:
    assert len(set(reasons.REJECT_REASONS)) == len(reasons.REJECT_REASONS)
    # tools_not_declared is a format adapter's reason, hit in test_formats.py (a SERA row's tools are spec/tools.json)
    assert {case.reason for case in REJECT_CASES} == set(reasons.REJECT_REASONS) - {reasons.TOOLS_NOT_DECLARED}


# ---------------------------------------------------------------------------------------------
# sources.md, "Bad lines and bad files": sources.parse_line


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"messages": "\xff"}\n', reasons.LINE_NOT_UTF8),
        (b'{"messages": "\x80abc"}', reasons.LINE_NOT_UTF8),  # lone continuation byte
        (b'{"messages": "\xc0\xaf"}', reasons.LINE_NOT_UTF8),  # overlong encoding
        (b'{"messages": "\xed\xa0\x80"}', reasons.LINE_NOT_UTF8),  # a surrogate encoded as UTF-8 bytes
        (b'{"messages": "\xe2\x9c"}', reasons.LINE_NOT_UTF8),  # truncated multi-byte sequence
        (b'{"messages": "[{\\"role\\": ', reasons.LINE_NOT_JSON),  # truncated last line
        (b"{'messages': 1}", reasons.LINE_NOT_JSON),
        (b"not json at all\n", reasons.LINE_NOT_JSON),
        (b"[1, 2, 3]\n", reasons.LINE_NOT_AN_OBJECT),
        (b'"a string"\n', reasons.LINE_NOT_AN_OBJECT),
        (b"42\r\n", reasons.LINE_NOT_AN_OBJECT),
        (b"null\n", reasons.LINE_NOT_AN_OBJECT),
    ],
)
def test_parse_line_rejects_bad_lines(line: bytes, reason: str) -> None:
    result = sources.parse_line(line)
    assert isinstance(result, sources.LineReject)
    assert result.reason == reason
    assert result.detail


def test_parse_line_real_row_and_its_truncation(sera_rows: list[dict]) -> None:
    line = json.dumps(sera_rows[0]).encode("utf-8")
    assert sources.parse_line(line + b"\n") == sera_rows[0]
    assert sources.parse_line(line + b"\r\n") == sera_rows[0]
    truncated = sources.parse_line(line[: len(line) // 2])
    assert isinstance(truncated, sources.LineReject) and truncated.reason == reasons.LINE_NOT_JSON
    not_utf8 = sources.parse_line(line[:100] + b"\xfe" + line[100:])
    assert isinstance(not_utf8, sources.LineReject) and not_utf8.reason == reasons.LINE_NOT_UTF8


def test_parse_line_accepts_lone_surrogate_escapes_and_non_ascii() -> None:
    # A lone surrogate escape is valid JSON; it is replaced later (§5), never a line reject.
    assert sources.parse_line(b'{"messages": "a\\ud800b"}\n') == {"messages": "a\ud800b"}
    assert sources.parse_line('{"messages": "✓ é"}'.encode()) == {"messages": "✓ é"}


# ---------------------------------------------------------------------------------------------
# §1 Parse


def test_load_messages_accepts_json_string_and_list(H: Any) -> None:
    messages = H.minimal()
    assert C.load_messages(json.dumps(messages)) == messages
    assert C.load_messages(json.dumps(messages, ensure_ascii=False, indent=2)) == messages
    assert C.load_messages(messages) == messages  # sources.md: a JSON array instead of a string is that list


def test_load_messages_keeps_lone_surrogate_escapes() -> None:
    loaded = C.load_messages('[{"role": "system", "content": "a\\ud800b"}]')
    assert loaded == [{"role": "system", "content": "a\ud800b"}]


@pytest.mark.parametrize(
    "raw, reason",
    [
        (None, reasons.MESSAGES_MISSING),
        ("", reasons.MESSAGES_MISSING),
        ("[{", reasons.MESSAGES_NOT_JSON),
        ("   ", reasons.MESSAGES_NOT_JSON),
        ("[{'role': 'system'}]", reasons.MESSAGES_NOT_JSON),
        ('{"role": "system"}', reasons.MESSAGES_NOT_A_LIST),
        ('"just text"', reasons.MESSAGES_NOT_A_LIST),
        ("null", reasons.MESSAGES_NOT_A_LIST),
        ("[1, 2, 3]", reasons.MESSAGES_NOT_A_LIST),
        ('[{"role": "system"}, 3]', reasons.MESSAGES_NOT_A_LIST),
        ('[{"role": "system"}, [{"role": "user"}]]', reasons.MESSAGES_NOT_A_LIST),
        (42, reasons.MESSAGES_NOT_A_LIST),
        ({"role": "system"}, reasons.MESSAGES_NOT_A_LIST),
        ("[]", reasons.MESSAGES_EMPTY),
        ([], reasons.MESSAGES_EMPTY),
    ],
)
def test_load_messages_rejects(raw: Any, reason: str) -> None:
    raises(reason, C.load_messages, raw)
    rejected(raw, reason)


def test_check_roles_returns_the_roles(H: Any) -> None:
    assert C.check_roles(H.minimal()) == ["system", "user", "assistant", "tool", "assistant", "tool"]


@pytest.mark.parametrize("role", ["function", "developer", "System", "", None, 3])
def test_check_roles_rejects_unknown_role(role: Any, H: Any) -> None:
    messages = H.minimal()
    messages[4]["role"] = role
    error = raises(reasons.UNKNOWN_ROLE, C.check_roles, messages)
    assert "message 4" in error.detail
    rejected(messages, reasons.UNKNOWN_ROLE, 4)


def test_check_roles_rejects_missing_role_key(H: Any) -> None:
    messages = H.minimal()
    del messages[5]["role"]
    rejected(messages, reasons.UNKNOWN_ROLE, 5)


@pytest.mark.parametrize(
    "content, text",
    [
        ("plain string", "plain string"),
        ("", ""),
        (None, ""),
        ([], ""),
        ([{"type": "text", "text": "OBSERVATION:\nabc"}], "OBSERVATION:\nabc"),
        ([{"type": "text", "text": "a", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "b"}], "ab"),
        ([{"type": "text", "text": "line 1\r\n"}, {"type": "text", "text": "line 2"}], "line 1\r\nline 2"),
        ([{"type": "text", "text": ""}, {"type": "text", "text": "x"}], "x"),
    ],
)
def test_flatten_content(content: Any, text: str) -> None:
    assert C.flatten_content(content, 3) == text


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}],
        [{"type": "text", "text": "a"}, {"type": "image", "source": {}}],
        [{"text": "no type"}],
        ["a bare string part"],
        {"type": "text", "text": "an object, not a list"},
        42,
        3.5,
        True,
    ],
)
def test_flatten_content_rejects_unsupported(content: Any, H: Any) -> None:
    error = raises(reasons.UNSUPPORTED_CONTENT_PART, C.flatten_content, content, 3)
    assert "message 3" in error.detail
    messages = H.minimal()
    messages[3]["content"] = content
    rejected(messages, reasons.UNSUPPORTED_CONTENT_PART, 3)


def test_check_preamble_accepts_system_then_user() -> None:
    C.check_preamble(["system", "user", "assistant", "tool", "assistant"])
    C.check_preamble(["system", "user"])


@pytest.mark.parametrize(
    "roles, reason, index",
    [
        (["user", "system", "assistant"], reasons.BAD_PREAMBLE, 0),
        (["system"], reasons.BAD_PREAMBLE, 1),
        (["user"], reasons.BAD_PREAMBLE, 0),
        (["system", "assistant", "tool"], reasons.BAD_PREAMBLE, 1),
        (["system", "system", "user"], reasons.BAD_PREAMBLE, 1),
        (["assistant", "user"], reasons.BAD_PREAMBLE, 0),
        (["system", "user", "assistant", "tool", "user"], reasons.UNEXPECTED_USER_MESSAGE, 4),
        (["system", "user", "assistant", "tool", "system"], reasons.UNEXPECTED_SYSTEM_MESSAGE, 4),
        # the first such message in order names the reason
        (["system", "user", "assistant", "system", "user"], reasons.UNEXPECTED_SYSTEM_MESSAGE, 3),
        (["system", "user", "user", "system"], reasons.UNEXPECTED_USER_MESSAGE, 2),
    ],
)
def test_check_preamble_rejects(roles: list[str], reason: str, index: int) -> None:
    error = raises(reason, C.check_preamble, roles)
    assert names_index(error.detail, index)


def test_check_preamble_whole_row(H: Any) -> None:
    rejected(H.minimal()[1:], reasons.BAD_PREAMBLE, 0)  # no system message (the YAML demonstration's shape)
    messages = H.minimal()
    messages[0], messages[1] = messages[1], messages[0]
    rejected(messages, reasons.BAD_PREAMBLE, 0)
    rejected(H.history(H.call(), H.call(), [H.user("again")], H.submit()), reasons.UNEXPECTED_USER_MESSAGE, 6)


# ---------------------------------------------------------------------------------------------
# §2 Pair calls with outputs


@pytest.mark.parametrize(
    "arguments, parsed",
    [
        ('{"command": "ls /testbed"}', {"command": "ls /testbed"}),
        ("{}", {}),
        ('  {"a": 1}  ', {"a": 1}),
        ('{"command": "view", "path": "/testbed/x.py", "view_range": [1, 20]}', {"command": "view", "path": "/testbed/x.py", "view_range": [1, 20]}),
        ('{"flag": true, "n": 3, "none": null}', {"flag": True, "n": 3, "none": None}),
        ('{"text": "\\u2713 é"}', {"text": "✓ é"}),
        ({"command": "ls"}, {"command": "ls"}),
        ({}, {}),
        (None, {}),
        ("", {}),
    ],
)
def test_parse_tool_arguments(arguments: Any, parsed: dict) -> None:
    assert C.parse_tool_arguments(arguments, 2) == parsed


def test_parse_tool_arguments_object_used_as_is() -> None:
    arguments = {"command": "ls", "nested": {"k": [1, 2]}}
    assert C.parse_tool_arguments(arguments, 2) == arguments


@pytest.mark.parametrize(
    "arguments",
    ['["ls"]', "[]", "3", "3.5", '"ls"', "null", "true", "{bad json", "   ", "{'command': 'ls'}", 3, 2.5, True, ["ls"], ("ls",)],
)
def test_parse_tool_arguments_rejects(arguments: Any, H: Any) -> None:
    error = raises(reasons.MALFORMED_TOOL_ARGUMENTS, C.parse_tool_arguments, arguments, 6)
    assert "message 6" in error.detail
    rejected(H.history(H.call(), H.call(raw_arguments=arguments), H.submit()), reasons.MALFORMED_TOOL_ARGUMENTS, 4)


@pytest.mark.parametrize("arguments", [None, "", {}, {"command": "ls"}])
def test_parse_tool_arguments_whole_row(arguments: Any, H: Any) -> None:
    result = converted(H.history(H.call(raw_arguments=arguments), H.submit()))
    expected = arguments if isinstance(arguments, dict) else {}
    assert contents(result, "tool_call") == ["<tool_call>" + json.dumps({"name": "bash", "arguments": expected}) + "</tool_call>"]


def _texts(messages: list[dict]) -> list[str]:
    return [C.flatten_content(m.get("content"), i) for i, m in enumerate(messages)]


def test_pair_steps_by_position_with_reused_ids(H: Any) -> None:
    # ids repeat in real data (the marshmallow trajectory); tool_call_ids even point at another call
    messages = H.history(
        H.call("bash", {"command": "ls"}, "one", call_id="call_same"),
        H.call("bash", {"command": "pwd"}, "two", call_id="call_same"),
        H.call("str_replace_editor", {"command": "view", "path": "/testbed/x.py"}, "three", call_id="call_same"),
        H.submit("four", call_id="call_same"),
    )
    messages[3]["tool_call_ids"] = ["call_other"]
    items = C.pair_steps(messages, _texts(messages), sera_tools())
    assert [(s.index, s.name, s.arguments, s.output) for s in items] == [
        (2, "bash", {"command": "ls"}, OBSERVATION + "one"),
        (4, "bash", {"command": "pwd"}, OBSERVATION + "two"),
        (6, "str_replace_editor", {"command": "view", "path": "/testbed/x.py"}, OBSERVATION + "three"),
        (8, "submit", {}, OBSERVATION + "four"),
    ]
    result = converted(messages, rollout_patch=None)
    assert contents(result, "tool_output") == ["<tool_response>one</tool_response>", "<tool_response>two</tool_response>", "<tool_response>three</tool_response>"]


@pytest.mark.parametrize("tool_calls", [None, []])
def test_pair_steps_text_only(tool_calls: Any, H: Any) -> None:
    messages = H.history(H.text_only("<think>hmm</think>\nLet me think.", tool_calls=tool_calls), H.call(), H.submit())
    items = C.pair_steps(messages, _texts(messages), sera_tools())
    assert isinstance(items[0], TextOnly) and items[0].index == 2 and items[0].reasoning == "hmm\n\nLet me think."
    assert [type(item) for item in items] == [TextOnly, Step, Step]


def test_pair_steps_text_only_without_tool_calls_key(H: Any) -> None:
    messages = H.history(H.text_only("thinking"), H.call(), H.submit())
    del messages[2]["tool_calls"]
    assert isinstance(C.pair_steps(messages, _texts(messages), sera_tools())[0], TextOnly)


def test_pair_steps_final_submit_without_output(H: Any) -> None:
    messages = H.history(H.call(), H.submit(output=None))
    items = C.pair_steps(messages, _texts(messages), sera_tools())
    assert items[-1].name == "submit" and items[-1].output is None
    result = converted(messages, rollout_patch=None)
    assert contents(result, "answer") == ["<answer></answer>"]
    # followed by text-only messages only: still allowed, their text goes to the answer's reasoning
    messages = H.history(H.call(), H.submit(output=None, think="Submitting."), H.text_only("Exit: submitted"), H.text_only("<think>done</think>"))
    result = converted(messages)
    assert contents(result, "reasoning")[-1] == "<think>Submitting.\n\nExit: submitted\n\ndone</think>"
    assert result.n_folded_texts == 2


@pytest.mark.parametrize(
    "parts, index",
    [
        # a mid submit without output (a step follows)
        (lambda H: [H.call(), H.submit(output=None), H.call(), H.submit()], 4),
        # a non-submit call at the end without output
        (lambda H: [H.call(), H.submit(), H.call(output=None)], 6),
        # a non-submit call without output followed by text only
        (lambda H: [H.call(output=None), H.text_only(COST_LIMIT_EXIT)], 2),
        # a final submit without output, then a tool call
        (lambda H: [H.call(), H.submit(output=None), H.call(output=None)], 4),
    ],
)
def test_pair_steps_missing_tool_output(parts: Callable, index: int, H: Any) -> None:
    messages = H.history(*parts(H))
    error = raises(reasons.MISSING_TOOL_OUTPUT, C.pair_steps, messages, _texts(messages), sera_tools())
    assert f"message {index}" in error.detail
    rejected(messages, reasons.MISSING_TOOL_OUTPUT, index)


@pytest.mark.parametrize(
    "parts, index",
    [
        (lambda H: [[H.tool(OBSERVATION + "x")], H.call(), H.submit()], 2),  # right after the user message
        (lambda H: [H.call(), [H.tool(OBSERVATION + "again")], H.submit()], 4),  # a second tool message
        (lambda H: [H.text_only("thinking"), [H.tool(OBSERVATION + "x")], H.call(), H.submit()], 3),  # after a text-only message
        (lambda H: [H.call(), H.submit(), [H.tool("late")]], 6),  # after the final output
    ],
)
def test_pair_steps_orphan_tool_output(parts: Callable, index: int, H: Any) -> None:
    messages = H.history(*parts(H))
    raises(reasons.ORPHAN_TOOL_OUTPUT, C.pair_steps, messages, _texts(messages), sera_tools())
    rejected(messages, reasons.ORPHAN_TOOL_OUTPUT, index)


@pytest.mark.parametrize("name", ["find_file", "open", "edit", "Bash", "", None, "submit "])
def test_pair_steps_unknown_tool(name: Any, H: Any) -> None:
    messages = H.history(H.call(), H.call(name, {"x": 1}), H.submit())
    rejected(messages, reasons.UNKNOWN_TOOL, 4)


def test_pair_steps_parallel_tool_calls(H: Any) -> None:
    messages = H.history(H.call(), H.call(extra_calls=2), H.submit())
    error = raises(reasons.PARALLEL_TOOL_CALLS, C.pair_steps, messages, _texts(messages), sera_tools())
    assert "message 4" in error.detail


# ---------------------------------------------------------------------------------------------
# Precedence: §1 in order over the whole list, then §2's walk in message order, then §3.


def test_precedence_section_1_checks_in_order_over_the_whole_list(H: Any) -> None:
    messages = H.history(H.call(extra_calls=1), H.call(), H.submit())
    messages[0], messages[1] = messages[1], messages[0]  # bad_preamble at 0
    messages[3]["content"] = [{"type": "image_url"}]  # unsupported_content_part at 3
    messages[7]["role"] = "observation"  # unknown_role at 7 (last)
    rejected(messages, reasons.UNKNOWN_ROLE, 7)
    messages[7]["role"] = "tool"
    rejected(messages, reasons.UNSUPPORTED_CONTENT_PART, 3)
    messages[3]["content"] = [{"type": "text", "text": "x"}]
    rejected(messages, reasons.BAD_PREAMBLE, 0)


def test_precedence_section_1_before_section_2_and_3(H: Any) -> None:
    # parallel calls at 2, unknown tool at 4, never submitted, and a late system message at 6
    messages = H.history(H.call(extra_calls=1), H.call("open", {}), [H.system()], H.text_only(COST_LIMIT_EXIT))
    rejected(messages, reasons.UNEXPECTED_SYSTEM_MESSAGE, 6)
    messages = H.history(H.call(extra_calls=1), [H.user("later")], H.call())
    rejected(messages, reasons.UNEXPECTED_USER_MESSAGE, 4)


def test_precedence_section_2_before_section_3(H: Any) -> None:
    # never submitted, but a problem in the walk comes first
    rejected(H.history(H.call(), H.call("find_file", {}), H.text_only(COST_LIMIT_EXIT)), reasons.UNKNOWN_TOOL, 4)
    rejected(H.history(H.call(), H.call(output=None), H.text_only(COST_LIMIT_EXIT)), reasons.MISSING_TOOL_OUTPUT, 4)
    rejected(H.history(H.call(), H.call(), [H.tool("x")]), reasons.ORPHAN_TOOL_OUTPUT, 6)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        (dict(name="find_file", raw_arguments="[1]", output=None, extra_calls=1), reasons.PARALLEL_TOOL_CALLS),
        (dict(name="find_file", raw_arguments="[1]", output=None), reasons.UNKNOWN_TOOL),
        (dict(name="bash", raw_arguments="[1]", output=None), reasons.MALFORMED_TOOL_ARGUMENTS),
        (dict(name="bash", raw_arguments='{"command": "ls"}', output=None), reasons.MISSING_TOOL_OUTPUT),
    ],
)
def test_precedence_within_one_assistant_message(kwargs: dict, reason: str, H: Any) -> None:
    # everything wrong at message 4; a following call makes the missing output a real problem
    messages = H.history(H.call(), H.call(**kwargs), H.call(), H.submit())
    rejected(messages, reason, 4)


def test_precedence_first_problem_in_message_order_wins(H: Any) -> None:
    # missing output at 2 before parallel calls at 3
    rejected(H.history(H.call(output=None), H.call(extra_calls=1), H.submit()), reasons.MISSING_TOOL_OUTPUT, 2)
    # orphan at 4 before an unknown tool at 5
    rejected(H.history(H.call(), [H.tool("x")], H.call("open", {}), H.submit()), reasons.ORPHAN_TOOL_OUTPUT, 4)
    # malformed arguments at 4 before parallel calls at 6
    rejected(H.history(H.call(), H.call(raw_arguments=5), H.call(extra_calls=1), H.submit()), reasons.MALFORMED_TOOL_ARGUMENTS, 4)
    # unknown tool at 2 before malformed arguments at 4
    rejected(H.history(H.call("edit", {}), H.call(raw_arguments="[]"), H.submit()), reasons.UNKNOWN_TOOL, 2)


# ---------------------------------------------------------------------------------------------
# §3 Submit


def _steps(*names: str) -> list[Step]:
    return [Step(2 + 2 * i, "", name, {}, "out") for i, name in enumerate(names)]


@pytest.mark.parametrize(
    "names, start",
    [
        (("bash", "submit"), 1),
        (("submit",), 0),
        (("bash", "submit", "submit"), 1),
        (("submit", "submit", "submit"), 0),
        (("bash", "submit", "bash", "submit"), 3),
        (("submit", "str_replace_editor", "submit", "submit"), 2),
    ],
)
def test_trailing_submit_run_start(names: tuple[str, ...], start: int) -> None:
    assert C.trailing_submit_run_start(_steps(*names), sera_tools().submit_names) == start


@pytest.mark.parametrize("names", [(), ("bash",), ("submit", "bash"), ("bash", "submit", "str_replace_editor")])
def test_trailing_submit_run_start_not_submitted(names: tuple[str, ...]) -> None:
    error = raises(reasons.NOT_SUBMITTED, C.trailing_submit_run_start, _steps(*names), sera_tools().submit_names)
    if names:
        assert f"message {2 + 2 * (len(names) - 1)}" in error.detail


def test_trailing_submit_run_start_whole_row_not_submitted(H: Any) -> None:
    rejected(H.history(H.call(), H.text_only(COST_LIMIT_EXIT)), reasons.NOT_SUBMITTED, 2)
    rejected(H.history(H.text_only(COST_LIMIT_EXIT)), reasons.NOT_SUBMITTED)
    rejected(H.history(), reasons.NOT_SUBMITTED)


def _submit_step(output: str | None) -> Step:
    return Step(4, "", "submit", {}, output)


@pytest.mark.parametrize(
    "rollout_patch, output, answer",
    [
        (PATCH, OBSERVATION + "other", PATCH),
        ("", OBSERVATION + "other", ""),  # not null, even empty: the rollout_patch wins
        ("", None, ""),
        (None, OBSERVATION + "diff --git a/x b/x\n", "diff --git a/x b/x\n"),
        (None, OBSERVATION + OBSERVATION + "x", OBSERVATION + "x"),  # ONE prefix stripped
        (None, "no prefix\r\n", "no prefix\r\n"),
        (None, " OBSERVATION:\nx", " OBSERVATION:\nx"),
        (None, None, ""),
    ],
)
def test_answer_text(rollout_patch: str | None, output: str | None, answer: str) -> None:
    assert C.answer_text(rollout_patch, _submit_step(output)) == answer


def test_answer_text_whole_row_uses_last_submit_of_the_run(H: Any) -> None:
    messages = H.history(H.call(), H.submit("first output"), H.submit("second output"), H.submit(OBSERVATION + "third\r\n"))
    result = converted(messages, rollout_patch=None)
    assert contents(result, "answer") == ["<answer>" + OBSERVATION + "third\r\n</answer>"]
    result = converted(messages, rollout_patch="")
    assert contents(result, "answer") == ["<answer></answer>"]
    result = converted(messages, rollout_patch=PATCH)
    assert contents(result, "answer") == ["<answer>" + PATCH + "</answer>"]


def test_answer_text_whole_row_last_submit_without_output(H: Any) -> None:
    # the last submit of the run has no output: "absent both" gives "", not the earlier submit's output
    messages = H.history(H.call(), H.submit("review"), H.submit(output=None))
    result = converted(messages, rollout_patch=None)
    assert contents(result, "answer") == ["<answer></answer>"]
    assert result.n_trimmed_submits == 1


def test_trailing_submits_trimmed(H: Any) -> None:
    messages = H.history(
        H.call(think="Explore."),
        H.submit(think="First submit."),
        H.submit("second", think="Second submit."),
        H.submit("third", think="Third submit."),
    )
    result = converted(messages)
    assert (result.n_tool_calls, result.n_trimmed_submits, result.n_messages) == (1, 2, 7)
    assert contents(result, "reasoning") == ["<think>Explore.\n\nI'll start by exploring the repository.</think>", "<think>First submit.</think>"]
    assert "second" not in result.messages and "third" not in result.messages and H.REVIEW not in result.messages


def test_submit_followed_by_clean_up_stays_a_cycle(H: Any) -> None:
    messages = H.history(
        H.call(),
        H.submit(H.REVIEW, think="Review."),
        H.call("bash", {"command": "rm reproduce.py"}, EMPTY_OUTPUT, observation_prefix=False, think="Clean up."),
        H.submit(PATCH, think="Submit again."),
    )
    result = converted(messages)
    assert (result.n_tool_calls, result.n_trimmed_submits) == (3, 0)
    calls = contents(result, "tool_call")
    assert calls[1] == '<tool_call>{"name": "submit", "arguments": {}}</tool_call>'
    assert contents(result, "tool_output")[1] == "<tool_response>" + H.REVIEW + "</tool_response>"
    assert contents(result, "tool_output")[2] == "<tool_response>" + EMPTY_OUTPUT + "</tool_response>"
    assert contents(result, "reasoning")[-1] == "<think>Submit again.</think>"


# ---------------------------------------------------------------------------------------------
# §4 Reasoning


@pytest.mark.parametrize(
    "text, reasoning",
    [
        ("<think>Let me look.</think>\nI'll explore the repo.", "Let me look.\n\nI'll explore the repo."),
        ("<think>Now let me submit again.</think>", "Now let me submit again."),
        ("<think>\n  padded  \n</think>\n\n  commentary  \n", "padded\n\ncommentary"),
        ("no tags at all \n", "no tags at all"),
        ("  \n ", ""),
        ("", ""),
        ("<think></think>", ""),
        ("<think> \n </think>\n", ""),
        ("<think></think>\nonly commentary", "only commentary"),
        # several blocks: every inner text first, then the commentary
        ("<think>a</think>\nfirst\n<think>b</think>\nsecond", "a\n\nb\n\nfirst\n\nsecond"),
        ("<think>a</think><think>b</think>", "a\n\nb"),
        ("<think>a</think>\n<think> </think>\n<think>c</think>", "a\n\nc"),
        ("before\n<think>a</think>\nafter", "a\n\nbefore\n\nafter"),
        # an unclosed <think> runs to the end of the text
        ("<think>unclosed thought\n", "unclosed thought"),
        ("<think>a</think>\nmiddle\n<think>runs on", "a\n\nruns on\n\nmiddle"),
        ("commentary first <think>open", "open\n\ncommentary first"),
    ],
)
def test_extract_reasoning(text: str, reasoning: str) -> None:
    assert C.extract_reasoning(text) == reasoning


@pytest.mark.parametrize(
    "thought, content, source",
    [
        ("<think>from thought</think>", "<think>from content</think>", "<think>from thought</think>"),
        ("<think>same</think>\nx", "<think>same</think>\nx", "<think>same</think>\nx"),
        ("", "<think>from content</think>", "<think>from content</think>"),
        ("  \n\t", "<think>from content</think>", "<think>from content</think>"),
        (None, "content only", "content only"),
        ("", "", ""),
    ],
)
def test_reasoning_source_thought_or_content_never_both(thought: Any, content: str, source: str) -> None:
    message = {"role": "assistant", "content": content, "thought": thought}
    assert C.reasoning_source(message, content) == source


def test_extract_reasoning_whole_row_thought_vs_content(H: Any) -> None:
    messages = H.history(
        H.call(content="<think>content text</think>\nshown", thought="<think>thought text</think>\nshown too"),
        H.call(content="<think>content only</think>", thought="   \n"),
        H.call(content="no thought key", thought=None),
        H.submit(),
    )
    result = converted(messages)
    assert contents(result, "reasoning")[:3] == [
        "<think>thought text\n\nshown too</think>",
        "<think>content only</think>",
        "<think>no thought key</think>",
    ]
    assert "content text" not in result.messages


def test_extract_reasoning_whole_row_several_blocks_and_unclosed(H: Any) -> None:
    messages = H.history(
        H.call(content="<think>one</think>\nsaid\n<think>two</think>\nmore"),
        H.call(content="<think>never closed, to the end\n"),
        H.submit(content="<think>final</think>"),
    )
    result = converted(messages)
    assert contents(result, "reasoning") == [
        "<think>one\n\ntwo\n\nsaid\n\nmore</think>",
        "<think>never closed, to the end</think>",
        "<think>final</think>",
    ]


def test_fold_text_only_messages() -> None:
    items = [
        TextOnly(2, "a"),
        Step(3, "r1", "bash", {}, "o1"),
        TextOnly(5, "b"),
        TextOnly(6, "c"),
        Step(7, "r2", "submit", {}, "o2"),
        TextOnly(9, "d"),
    ]
    steps, trailing = C.fold_text_only_messages(items)
    assert [(s.index, s.folded) for s in steps] == [(3, ["a"]), (7, ["b", "c"])]
    assert trailing == [TextOnly(9, "d")]
    assert C.fold_text_only_messages([Step(2, "", "submit", {}, None)])[1] == []


def test_fold_text_only_messages_whole_row_into_next_step(H: Any) -> None:
    messages = H.history(
        H.text_only("<think>plan</think>\nLet me plan."),
        H.call(think="Look.", commentary=""),
        H.text_only("no tags here"),
        H.text_only("<think> </think>"),  # empty reasoning: nothing added
        H.call(content=""),  # empty reasoning of its own: only the folded text remains
        H.submit(think="Done."),
    )
    result = converted(messages)
    assert contents(result, "reasoning") == [
        "<think>plan\n\nLet me plan.\n\nLook.</think>",
        "<think>no tags here</think>",
        "<think>Done.</think>",
    ]
    assert result.n_filled_reasoning == 0
    assert result.n_folded_texts == 3


def test_fold_text_only_messages_whole_row_after_last_step_into_answer(H: Any) -> None:
    messages = H.history(H.call(), H.submit(think="Submitting."), H.text_only("<think>after</think>\ncommentary"), H.text_only("Exit: submitted"))
    result = converted(messages)
    assert contents(result, "reasoning")[-1] == "<think>Submitting.\n\nafter\n\ncommentary\n\nExit: submitted</think>"
    assert result.n_folded_texts == 2


def test_fold_text_only_messages_whole_row_between_trimmed_submits_dropped(H: Any) -> None:
    messages = H.history(
        H.call(),
        H.text_only("before the answer"),
        H.submit(think="Answer."),
        H.text_only("between answer and second"),
        H.submit("second", think="Second."),
        H.text_only("between two trimmed submits"),
        H.submit("third", think="Third."),
    )
    result = converted(messages)
    assert contents(result, "reasoning")[-1] == "<think>before the answer\n\nAnswer.</think>"
    assert "between" not in result.messages
    assert result.n_trimmed_submits == 2
    assert result.n_folded_texts == 1  # only the folded text that reaches the output


@pytest.mark.parametrize(
    "dataset, instance_id, position, expected",
    [
        ("Sera-4.6-Lite-T2", "tinydb_10309", 2, 0),
        ("Sera-4.6-Lite-T2", None, 2, 4),
        ("Sera-4.6-Lite-T2", "", 2, 4),
        ("d", "x", 5, 10),
        ("d", "x", 2, 2),
    ],
)
def test_template_index_known_values(dataset: str, instance_id: str | None, position: int, expected: int) -> None:
    assert my_template_index(dataset, instance_id, position) == expected
    assert C.template_index(dataset, instance_id, position) == expected


def test_template_index_matches_the_formula() -> None:
    for dataset in ("Sera-4.5A-Full-T1", "Sera-4.6-Lite-T2", "é✓"):
        for instance_id in (None, "", "tinydb_10309", "None", "0"):
            for position in range(2, 200, 3):
                assert C.template_index(dataset, instance_id, position) == my_template_index(dataset, instance_id, position)
    # null instance_id is "", not "None"
    assert C.template_index("d", None, 2) == my_template_index("d", "", 2)
    assert {my_template_index("d", "x", p) for p in range(2, 500)} == set(range(12))


def test_fill_empty_reasoning() -> None:
    assert C.fill_empty_reasoning("kept", DATASET, INSTANCE, 2) == "kept"
    for position in (2, 5, 8, 11):
        assert C.fill_empty_reasoning("", DATASET, INSTANCE, position) == templates()[my_template_index(DATASET, INSTANCE, position)]
    assert C.fill_empty_reasoning("", DATASET, None, 5) == templates()[my_template_index(DATASET, "", 5)]


def test_fill_empty_reasoning_whole_row_positions(H: Any) -> None:
    messages = H.history(
        H.call(),
        H.call(content="", thought=""),  # the real "empty thought and empty content" shape
        H.call(content="<think>  </think>"),
        H.submit(content="", thought=None),
    )
    for instance_id in (INSTANCE, None):
        result = converted(messages, instance_id=instance_id)
        out = out_of(result)
        assert result.n_filled_reasoning == 3
        for position in (5, 8, 11):
            assert out[position]["role"] == "reasoning"
            assert out[position]["content"] == "<think>" + templates()[my_template_index(DATASET, instance_id, position)] + "</think>"
        # same input, same text, every run
        assert convert(messages, instance_id=instance_id) == result


def test_fill_empty_reasoning_templates_file() -> None:
    assert len(templates()) == 12
    assert all(line.strip() for line in templates())


# ---------------------------------------------------------------------------------------------
# §5 Rendering


@pytest.mark.parametrize(
    "source_system",
    [SERA_SYSTEM, "", "literal {tools_json} stays", "format fields {0} {} {source_system} stay", "a\r\nb ✓"],
)
def test_render_system(source_system: str) -> None:
    assert R.render_system(source_system) == expected_system(source_system)


def test_render_system_exact_text(system_prompt_template: str, tools_list: list[dict]) -> None:
    rendered = R.render_system("{tools_json}|{0}")
    assert rendered == system_prompt_template.replace("{tools_json}", json.dumps(tools_list, ensure_ascii=False), 1).replace("{source_system}", "{tools_json}|{0}", 1)
    assert rendered.endswith("## Instructions\n\n{tools_json}|{0}")  # no trailing newline added
    assert json.dumps(tools_list, ensure_ascii=False) in rendered
    assert [tool["function"]["name"] for tool in tools_list] == ["bash", "str_replace_editor", "submit"]


def test_render_system_whole_row(H: Any) -> None:
    result = converted(H.minimal(system="Use {tools_json} and {0}."))
    assert out_of(result)[0] == {"role": "system", "content": expected_system("Use {tools_json} and {0}.")}
    # a system message given as a list of parts is flattened first
    messages = H.minimal()
    messages[0]["content"] = [{"type": "text", "text": "part 1 "}, {"type": "text", "text": "part 2"}]
    assert out_of(converted(messages))[0]["content"] == expected_system("part 1 part 2")


def test_render_system_package_copies_match_the_contract() -> None:
    shared = SHARED_DIR / "spec"
    if not shared.is_dir():
        pytest.skip("../shared/spec is not present")
    for name in ("system-prompt.txt", "tools.json", "reasoning-templates.txt"):
        assert (PACKAGE_SPEC_DIR / name).read_bytes() == (shared / name).read_bytes(), name


@pytest.mark.parametrize(
    "name, arguments, text",
    [
        ("submit", {}, '<tool_call>{"name": "submit", "arguments": {}}</tool_call>'),
        ("bash", {"command": "ls -la"}, '<tool_call>{"name": "bash", "arguments": {"command": "ls -la"}}</tool_call>'),
        (
            "str_replace_editor",
            {"command": "view", "path": "/testbed/a.py", "view_range": [1, -1]},
            '<tool_call>{"name": "str_replace_editor", "arguments": {"command": "view", "path": "/testbed/a.py", "view_range": [1, -1]}}</tool_call>',
        ),
        ("bash", {"command": "echo ✓ é \"q\"\n"}, '<tool_call>{"name": "bash", "arguments": {"command": "echo ✓ é \\"q\\"\\n"}}</tool_call>'),
        ("bash", {"z": True, "a": None, "n": 1.5}, '<tool_call>{"name": "bash", "arguments": {"z": true, "a": null, "n": 1.5}}</tool_call>'),
    ],
)
def test_render_tool_call(name: str, arguments: dict, text: str) -> None:
    assert R.render_tool_call(R.tool_call(name, arguments)) == text


def test_render_tool_call_whole_row_keeps_argument_order_and_non_ascii(H: Any) -> None:
    arguments = {"path": "/testbed/ü.py", "command": "create", "file_text": "print('✓')\r\n"}
    result = converted(H.history(H.call("str_replace_editor", arguments), H.submit()))
    assert contents(result, "tool_call")[0] == "<tool_call>" + json.dumps({"name": "str_replace_editor", "arguments": arguments}, ensure_ascii=False) + "</tool_call>"
    assert "✓" in result.messages and "\\u2713" not in result.messages


@pytest.mark.parametrize(
    "text, stripped",
    [
        ("OBSERVATION:\nabc", "abc"),
        ("OBSERVATION:\nOBSERVATION:\nx", "OBSERVATION:\nx"),
        ("OBSERVATION:\n", ""),
        ("OBSERVATION:\r\nabc", "OBSERVATION:\r\nabc"),
        ("OBSERVATION:abc", "OBSERVATION:abc"),
        ("observation:\nabc", "observation:\nabc"),
        ("\nOBSERVATION:\nabc", "\nOBSERVATION:\nabc"),
        (EMPTY_OUTPUT, EMPTY_OUTPUT),
        ("a\r\nb\r\n", "a\r\nb\r\n"),
        ("", ""),
    ],
)
def test_strip_observation_prefix(text: str, stripped: str) -> None:
    assert R.strip_observation_prefix(text) == stripped


def test_strip_observation_prefix_whole_row(H: Any) -> None:
    messages = H.history(
        H.call(output="line 1\r\nline 2\r\n"),
        H.call(output=OBSERVATION + "kept"),
        H.call(output=EMPTY_OUTPUT, observation_prefix=False),
        H.call(output="", observation_prefix=True),
        H.submit(),
    )
    result = converted(messages)
    assert contents(result, "tool_output")[:4] == [
        "<tool_response>line 1\r\nline 2\r\n</tool_response>",
        "<tool_response>OBSERVATION:\nkept</tool_response>",
        "<tool_response>" + EMPTY_OUTPUT + "</tool_response>",
        "<tool_response></tool_response>",
    ]
    assert "line 1\\r\\nline 2" in result.messages  # kept as \r\n, escaped by JSON


def test_render_reasoning_and_answer() -> None:
    assert R.render_reasoning("R") == "<think>R</think>"
    assert R.render_answer("") == "<answer></answer>"
    assert R.render_answer(PATCH) == "<answer>" + PATCH + "</answer>"
    assert R.render_tool_output(R.strip_observation_prefix(OBSERVATION + "x\r\n")) == "<tool_response>x\r\n</tool_response>"


@pytest.mark.parametrize(
    "text, fixed, count",
    [
        ("plain", "plain", 0),
        ("", "", 0),
        ("a\ud800b", "a\ufffdb", 1),
        ("\udfff", "\ufffd", 1),
        ("x\ud83d\ude00", "x\ufffd\ufffd", 2),  # two surrogate code points in a str are both lone
        ("\ud800\ud800 ok \udc00", "\ufffd\ufffd ok \ufffd", 3),
        ("emoji 😀 ✓ é", "emoji 😀 ✓ é", 0),
    ],
)
def test_replace_lone_surrogates(text: str, fixed: str, count: int) -> None:
    assert R.replace_lone_surrogates(text) == (fixed, count)
    fixed.encode("utf-8")


def test_replace_lone_surrogates_whole_row(H: Any) -> None:
    messages = H.history(H.call(output="bad \ud800 byte", think="think \udfff"), H.submit(), user="user \ud83d text")
    result = converted(messages, rollout_patch="patch \udc00")
    assert result.n_replaced_chars == 4
    result.messages.encode("utf-8")
    assert "bad \ufffd byte" in result.messages and "user \ufffd text" in result.messages and "patch \ufffd" in result.messages
    # from a JSON string with a lone surrogate escape (orjson refuses it, the rule must not crash)
    raw = json.dumps(H.minimal(user="esc \ud800 aped"))
    assert "\\ud800" in raw
    result = converted(raw)
    assert result.n_replaced_chars == 1 and "esc \ufffd aped" in result.messages


@pytest.mark.parametrize(
    "messages, text",
    [
        ([], "[]"),
        ([{"role": "system", "content": "a"}], '[{"role": "system", "content": "a"}]'),
        (
            [{"role": "user", "content": 'q"\n✓'}, {"role": "answer", "content": "<answer></answer>"}],
            '[{"role": "user", "content": "q\\"\\n✓"}, {"role": "answer", "content": "<answer></answer>"}]',
        ),
    ],
)
def test_dump_messages(messages: list[dict], text: str) -> None:
    assert R.dump_messages(messages) == text == json.dumps(messages, ensure_ascii=False)


# ---------------------------------------------------------------------------------------------
# Whole rows: exact output strings


def test_convert_trajectory_exact_output(H: Any) -> None:
    messages = H.history(
        H.call("bash", {"command": "ls /testbed"}, "a.py\r\nb.py\n", think="Look around.", commentary="Let me list files."),
        H.submit(H.REVIEW, think="Done."),
        H.call("bash", {"command": "rm reproduce.py"}, EMPTY_OUTPUT, observation_prefix=False, think="Clean up.", commentary="Removing."),
        H.submit(PATCH, think="Submit again."),
    )
    result = converted(messages)
    expected = [
        {"role": "system", "content": expected_system(SERA_SYSTEM)},
        {"role": "user", "content": H.USER},
        {"role": "reasoning", "content": "<think>Look around.\n\nLet me list files.</think>"},
        {"role": "tool_call", "content": '<tool_call>{"name": "bash", "arguments": {"command": "ls /testbed"}}</tool_call>'},
        {"role": "tool_output", "content": "<tool_response>a.py\r\nb.py\n</tool_response>"},
        {"role": "reasoning", "content": "<think>Done.</think>"},
        {"role": "tool_call", "content": '<tool_call>{"name": "submit", "arguments": {}}</tool_call>'},
        {"role": "tool_output", "content": "<tool_response>" + H.REVIEW + "</tool_response>"},
        {"role": "reasoning", "content": "<think>Clean up.\n\nRemoving.</think>"},
        {"role": "tool_call", "content": '<tool_call>{"name": "bash", "arguments": {"command": "rm reproduce.py"}}</tool_call>'},
        {"role": "tool_output", "content": "<tool_response>" + EMPTY_OUTPUT + "</tool_response>"},
        {"role": "reasoning", "content": "<think>Submit again.</think>"},
        {"role": "answer", "content": "<answer>" + PATCH + "</answer>"},
    ]
    assert result.messages == json.dumps(expected, ensure_ascii=False)
    assert result == Converted(
        messages=result.messages, n_messages=13, n_tool_calls=3, n_trimmed_submits=0, n_folded_texts=0, n_filled_reasoning=0, n_replaced_chars=0
    )
    assert result.messages.startswith('[{"role": "system", "content": "## Tool-use protocol')
    assert '"}, {"role": "user", "content": "<uploaded_files>' in result.messages
    # the same history given as the published JSON string converts to the same bytes
    assert convert(json.dumps(messages)) == result


def test_convert_trajectory_smallest_row(H: Any) -> None:
    # only a submit: system, user, reasoning, answer
    result = converted(H.history(H.submit("diff", think="Nothing to do.")), rollout_patch=None)
    assert out_of(result)[2:] == [
        {"role": "reasoning", "content": "<think>Nothing to do.</think>"},
        {"role": "answer", "content": "<answer>diff</answer>"},
    ]
    assert (result.n_messages, result.n_tool_calls) == (4, 0)


def test_convert_trajectory_ignores_extra_keys_and_plain_string_content(H: Any) -> None:
    messages = H.minimal()
    for message in messages:
        message["extra"] = {"anything": [1, 2]}
        if message["role"] in ("user", "tool"):
            message["content"] = message["content"][0]["text"]  # plain string instead of parts
    messages[2]["tool_calls"][0]["extra"] = "x"
    assert convert(messages).messages == converted(H.minimal()).messages


SHAPES = [
    lambda H: H.minimal(),
    lambda H: H.history(H.submit()),
    lambda H: H.history(H.call(), H.call(), H.submit(), H.submit()),
    lambda H: H.history(H.call(), H.submit(), H.call(), H.submit(), H.submit(output=None), H.text_only("Exit")),
    lambda H: H.history(H.text_only("a"), H.text_only("b"), H.call(), H.text_only("c"), H.submit(), H.text_only("d"), H.submit()),
    lambda H: H.history(*[H.call() for _ in range(20)], H.submit(content="", thought="")),
]


@pytest.mark.parametrize("shape", range(len(SHAPES)))
def test_n_messages_is_three_tool_calls_plus_four(shape: int, H: Any) -> None:
    result = converted(SHAPES[shape](H))
    assert result.n_messages == 3 * result.n_tool_calls + 4


def test_fold_text_only_messages_whole_row_after_trimmed_submits_go_to_the_answer(H: Any) -> None:
    messages = H.history(H.call(), H.submit(think="Answer."), H.submit("second", think="Second."), H.text_only("<think>after all</think>"))
    result = converted(messages)
    assert contents(result, "reasoning")[-1] == "<think>Answer.\n\nafter all</think>"
    assert (result.n_trimmed_submits, result.n_folded_texts) == (1, 1)


def test_fold_text_only_messages_whole_row_thought_rule_applies(H: Any) -> None:
    # a text-only message's reasoning also comes from `thought` when it holds text, else from content
    messages = H.history(
        H.text_only("<think>from content</think>", thought="<think>from thought</think>"),
        H.text_only("<think>content used</think>", thought=" "),
        H.call(think="Go.", commentary=""),
        H.submit(),
    )
    assert contents(converted(messages), "reasoning")[0] == "<think>from thought\n\ncontent used\n\nGo.</think>"


def test_user_text_unchanged(H: Any) -> None:
    text = "  leading and trailing whitespace kept \r\n<pr_description>\n{tools_json}\n</pr_description>\n\n"
    assert out_of(converted(H.minimal(user=text)))[1] == {"role": "user", "content": text}


# ---------------------------------------------------------------------------------------------
# "Not valid JSON" (§1, §2, sources.md): NaN, Infinity and -Infinity are not JSON (RFC 8259), though
# Python's json module accepts them. Accepting them would put a non-JSON tool_call in the output.

NON_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity"]


@pytest.mark.parametrize("token", NON_JSON_NUMBERS)
def test_parse_tool_arguments_rejects_non_json_numbers(token: str, H: Any) -> None:
    arguments = f'{{"command": "sleep", "seconds": {token}}}'
    raises(reasons.MALFORMED_TOOL_ARGUMENTS, C.parse_tool_arguments, arguments, 4)
    rejected(H.history(H.call(), H.call(raw_arguments=arguments), H.submit()), reasons.MALFORMED_TOOL_ARGUMENTS, 4)


@pytest.mark.parametrize("token", NON_JSON_NUMBERS)
def test_load_messages_rejects_non_json_numbers(token: str, H: Any) -> None:
    raw = json.dumps(H.minimal())[:-1] + f', {{"role": "assistant", "content": "x", "score": {token}}}]'
    rejected(raw, reasons.MESSAGES_NOT_JSON)


@pytest.mark.parametrize("token", NON_JSON_NUMBERS)
def test_parse_line_rejects_non_json_numbers(token: str) -> None:
    result = sources.parse_line(b'{"messages": "[]", "extra": %s}\n' % token.encode())
    assert isinstance(result, sources.LineReject) and result.reason == reasons.LINE_NOT_JSON

"""Bad input, end to end: real `dbt build` runs on small generated source folders (spec/sources.md
"Bad lines and bad files", spec/conversion.md §1-§5 and §8).

- Row-level cases (a bad line, a row that breaks a conversion rule, or an odd row that must convert) all
  go into ONE build: each case is one line of a file in the published layout, and the test looks it up by
  (source_file, source_row) in sera_rectified or sera_rectified_rejects. Nothing may be lost: every line
  written is in exactly one of the two tables, and rows_read = rows_out + rows_rejected per dataset.
  The same sources are built once more with `engine: ray` (issue 16): the tables and the export must be
  the local build's.
- File-level cases (a missing or empty dataset folder, a missing column, a corrupt file, an unknown
  dataset name) each get their own build, which must fail with a message that says what is wrong, where,
  and what to do, and must leave export_path as it was.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bad_inputs as bi
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt_runs import CHECK_OUTPUT, EXPORT_NAME, dbt_build

from sera_testkit.constants import COST_LIMIT_EXIT, OBSERVATION, PACKAGE_SPEC_DIR

pytestmark = pytest.mark.integration

T1 = "Sera-4.6-Lite-T1"
T2 = "Sera-4.6-Lite-T2"
DATASET_ORDER = {"Sera-4.5A-Full-T1": 1, "Sera-4.5A-Full-T2": 2, T1: 3, T2: 4}
TEMPLATES = (PACKAGE_SPEC_DIR / "reasoning-templates.txt").read_text(encoding="utf-8").splitlines()
REVIEW = "Thank you for your work on this issue. Run the submit command again to confirm.\n<diff>\ndiff --git a/x b/x\n</diff>\n"
UNUSUAL = (
    "astral 🐛🚀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎 | CJK 日本語 한국어 | combining e\u0301 | ZWJ 👩\u200d💻 | RTL \u202eevil\u202c | "
    "LS\u2028PS\u2029 | BOM\ufeff | NUL\u0000 | DEL\x7f NEL\x85 | nbsp\u00a0 | private use \ue000 | noncharacter \uffff"
)
FIFTY_MB = 50 * 1024 * 1024


# ---------------------------------------------------------------------------------------------
# The cases: one line each, and what must become of it


@dataclass(frozen=True)
class Rejected:
    """The line must be in sera_rectified_rejects with this reason, and a detail holding this text."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Converts:
    """The line must be in sera_rectified; `check` looks at the row (messages decoded as `out`)."""

    check: Callable[[dict], None] | None = None


@dataclass(frozen=True)
class Case:
    name: str
    dataset: str
    file: str  # path inside the dataset folder; .jsonl, .jsonl.gz, .jsonl.zst or .parquet
    line: Callable[[], dict | bytes]  # a row (dict) or the raw bytes of a line
    expect: Rejected | Converts

    @property
    def source_file(self) -> str:
        return f"{self.dataset}/{self.file}"


def edit(instance_id: str, change: Callable[[list[dict]], Any], **overrides: Any) -> Callable[[], dict]:
    return lambda: bi.edited_row(instance_id, change, **overrides)


def messages_column(instance_id: str, value: Any) -> Callable[[], dict]:
    return lambda: bi.row_with_messages(instance_id, value)


def setitem(target: dict, key: str, value: Any) -> None:
    target[key] = value


def reasoning_of(content: Any, thought: Any = "same", drop_thought: bool = False) -> Callable[[list[dict]], None]:
    def change(messages: list[dict]) -> None:
        messages[2]["content"] = content
        messages[2]["thought"] = content if thought == "same" else thought
        if drop_thought:
            del messages[2]["thought"]

    return change


def first_reasoning_is(expected: str) -> Callable[[dict], None]:
    def check(row: dict) -> None:
        assert row["out"][2] == {"role": "reasoning", "content": f"<think>{expected}</think>"}

    return check


def first_call_is(expected: str) -> Callable[[dict], None]:
    def check(row: dict) -> None:
        assert row["out"][3] == {"role": "tool_call", "content": f"<tool_call>{expected}</tool_call>"}

    return check


def first_output_is(text: str, n_replaced: int = 0) -> Callable[[dict], None]:
    def check(row: dict) -> None:
        assert row["out"][4] == {"role": "tool_output", "content": f"<tool_response>{text}</tool_response>"}
        assert row["n_replaced_chars"] == n_replaced

    return check


def same_messages_as_control(row: dict) -> None:
    assert row["messages"] == row["control_messages"]


def answer_only(n_trimmed: int) -> Callable[[dict], None]:
    def check(row: dict) -> None:
        assert [m["role"] for m in row["out"]] == ["system", "user", "reasoning", "answer"]
        assert (row["n_messages"], row["n_tool_calls"], row["n_trimmed_submits"]) == (4, 0, n_trimmed)
        assert row["out"][3]["content"] == f"<answer>{row['source']['rollout_patch']}</answer>"

    return check


def filled_from_template(row: dict) -> None:
    key = f"{T1}\n{row['instance_id']}\n2".encode()
    template = TEMPLATES[int(hashlib.sha256(key).hexdigest(), 16) % 12]
    assert row["out"][2]["content"] == f"<think>{template}</think>"
    assert row["n_filled_reasoning"] == 1


def ends_with_text_only(messages: list[dict]) -> list[dict]:
    return messages[:-1] + [bi.assistant("All done, the fix is in.", name=None)]


def no_submit(messages: list[dict]) -> list[dict]:
    return messages[: bi.first_submit_index(messages)] + [bi.assistant(COST_LIMIT_EXIT, name=None)]


def add_extra_keys_and_reuse_ids(messages: list[dict]) -> None:
    for message in messages:
        message["extra_key"] = {"nested": [1, 2, 3]}
        for call in message.get("tool_calls") or []:
            call["id"] = "call_same_id_everywhere"
            call["provider_extra"] = True
        if message["role"] == "tool":
            message["tool_call_ids"] = ["call_same_id_everywhere"]


def final_answer_from_last_output(row: dict) -> None:
    source = json.loads(row["source"]["messages"])
    last_output = source[-1]["content"][0]["text"].removeprefix(OBSERVATION)
    assert row["out"][-1]["content"] == f"<answer>{last_output}</answer>"
    assert row["func_name"] is None and row["func_path"] is None


def converted_plainly(row: dict) -> None:
    assert row["n_messages"] == 3 * row["n_tool_calls"] + 4
    assert row["out"][-1]["content"] == f"<answer>{row['source']['rollout_patch']}</answer>"


def trailing_text_in_answer_reasoning(row: dict) -> None:
    converted_plainly(row)
    reasoning = row["out"][-2]["content"]
    assert reasoning.startswith("<think>") and "All done, the fix is in.</think>" in reasoning


def lone_surrogates_replaced(row: dict) -> None:
    first_reasoning_is("high \ufffd alone, low \ufffd alone, pair 😀 joined")(row)
    assert row["n_replaced_chars"] == 2


def surrogate_in_metadata_replaced(row: dict) -> None:
    assert (row["func_name"], row["n_replaced_chars"]) == ("storage_\ufffd_write", 1)


def big_output_kept(row: dict) -> None:
    text = bi.big_output_text(FIFTY_MB)
    outputs = [m["content"] for m in row["out"] if m["role"] == "tool_output"]
    assert outputs[0] == f"<tool_response>{text}</tool_response>"
    assert len(outputs[0]) == FIFTY_MB + len("<tool_response></tool_response>")
    assert row["n_chars"] == len(row["messages"]) > FIFTY_MB


def big_row() -> dict:
    messages = bi.valid_messages(5, dataset=T2)
    bi.set_first_output(messages, bi.big_output_text(FIFTY_MB))
    row = bi.valid_row("big-50mb", dataset=T2, index=5)
    row["messages"] = json.dumps(messages, ensure_ascii=False)
    return row


def lone_surrogates_raw(messages: list[dict]) -> None:
    text = "<think>high \ud83d alone, low \udc00 alone, pair \ud83d\ude00 joined</think>"
    messages[2]["content"] = messages[2]["thought"] = text


def unusual_unicode(messages: list[dict]) -> None:
    bi.set_first_output(messages, UNUSUAL)
    messages[2]["content"] = messages[2]["thought"] = "<think>Reading 𝔘𝔫𝔦 and 🐛 carefully.</think>"


def unusual_unicode_kept(row: dict) -> None:
    first_output_is(UNUSUAL)(row)
    first_reasoning_is("Reading 𝔘𝔫𝔦 and 🐛 carefully.")(row)
    assert (row["func_name"], row["func_path"]) == ("écrire_𝔘𝔫𝔦_🐛", "src/n\u0000ul\u2028.py")


def dup_kept(row: dict) -> None:
    assert row["instance_id"] == "dup-1"
    assert row["line_level_recall"] is not None and 0 <= row["line_level_recall"] <= 1


def ignored_columns(row: dict) -> None:
    assert row["line_level_recall"] is None  # a T1 row: the source's line_level_recall column is ignored
    assert row["func_name"] == row["source"]["func_name"]


def missing_keys_are_null(row: dict) -> None:
    assert row["func_path"] is None
    assert row["func_name"] == row["source"]["func_name"]


C = Case
CASES: list[Case] = [
    # conversion.md §1: the messages column
    C("messages null", T1, "cases.jsonl",
      messages_column("rej-messages-null", None),
      Rejected("messages_missing", "null")),
    C("messages empty string", T1, "cases.jsonl",
      messages_column("rej-messages-empty", ""),
      Rejected("messages_missing", "empty")),
    C("messages not JSON", T1, "cases.jsonl",
      messages_column("rej-messages-not-json", '[{"role": "system", "content": "cut'),
      Rejected("messages_not_json", "not valid JSON")),
    C("messages an object", T1, "cases.jsonl",
      messages_column("rej-messages-object", '{"role": "system"}'),
      Rejected("messages_not_a_list", "is an object")),
    C("messages a list of strings", T1, "cases.jsonl",
      messages_column("rej-messages-strings", '["system", "user"]'),
      Rejected("messages_not_a_list", "not an array of objects")),
    C("messages a number", T1, "cases.jsonl",
      messages_column("rej-messages-number", "42"),
      Rejected("messages_not_a_list", "is a number")),
    C("messages an empty list", T1, "cases.jsonl",
      messages_column("rej-messages-empty-list", "[]"),
      Rejected("messages_empty", "empty list")),
    # §1: roles and content
    C("unknown role", T1, "cases.jsonl",
      edit("rej-unknown-role", lambda m: setitem(m[3], "role", "observer")),
      Rejected("unknown_role", "message 3")),
    C("message without role", T1, "cases.jsonl",
      edit("rej-no-role", lambda m: m[5].pop("role")),
      Rejected("unknown_role", "message 5")),
    C("content part of unknown type", T1, "cases.jsonl",
      edit("rej-image-part", lambda m: m[1]["content"].append({"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}})),
      Rejected("unsupported_content_part", "message 1 has a content part of type 'image_url'")),
    C("content a number", T1, "cases.jsonl",
      edit("rej-content-number", lambda m: setitem(m[3], "content", 42)),
      Rejected("unsupported_content_part", "message 3")),
    C("content an object", T1, "cases.jsonl",
      edit("rej-content-object", lambda m: setitem(m[2], "content", {"text": "hi"})),
      Rejected("unsupported_content_part", "message 2")),
    C("preamble not system, user", T1, "cases.jsonl",
      edit("rej-bad-preamble", lambda m: [m[1], m[0], *m[2:]]),
      Rejected("bad_preamble", "messages 0 and 1")),
    C("user message after the preamble", T1, "cases.jsonl",
      edit("rej-late-user", lambda m: m.insert(4, bi.user())),
      Rejected("unexpected_user_message", "message 4")),
    C("system message after the preamble", T1, "cases.jsonl",
      edit("rej-late-system", lambda m: m.insert(4, bi.system())),
      Rejected("unexpected_system_message", "message 4")),
    # §2: calls and outputs
    C("parallel tool calls", T1, "cases.jsonl",
      edit("rej-parallel", lambda m: m[2]["tool_calls"].append(dict(m[2]["tool_calls"][0]))),
      Rejected("parallel_tool_calls", "message 2 has 2 tool calls")),
    C("unknown tool", T1, "cases.jsonl",
      edit("rej-unknown-tool", lambda m: bi.set_first_call(m, name="find_file")),
      Rejected("unknown_tool", "message 2 calls unknown tool 'find_file'")),
    C("tool arguments not JSON", T1, "cases.jsonl",
      edit("rej-args-not-json", lambda m: bi.set_first_call(m, arguments='{"command": ')),
      Rejected("malformed_tool_arguments", "message 2")),
    C("tool arguments a list", T1, "cases.jsonl",
      edit("rej-args-list", lambda m: bi.set_first_call(m, arguments='["ls", "-la"]')),
      Rejected("malformed_tool_arguments", "message 2")),
    C("tool arguments a JSON number", T1, "cases.jsonl",
      edit("rej-args-number-string", lambda m: bi.set_first_call(m, arguments="42")),
      Rejected("malformed_tool_arguments", "message 2")),
    C("tool arguments a raw number", T1, "cases.jsonl",
      edit("rej-args-number", lambda m: bi.set_first_call(m, arguments=42)),
      Rejected("malformed_tool_arguments", "message 2")),
    C("tool call without output mid-trajectory", T1, "cases.jsonl",
      edit("rej-missing-output", lambda m: m.pop(3)),
      Rejected("missing_tool_output", "message 2")),
    C("submit without output mid-trajectory", T1, "cases.jsonl",
      edit("rej-submit-no-output-mid", lambda m: m.insert(2, bi.submit_step(None)[0])),
      Rejected("missing_tool_output", "message 2 calls 'submit'")),
    C("orphan tool output", T1, "cases.jsonl",
      edit("rej-orphan", lambda m: m.insert(4, bi.tool(OBSERVATION + "stray"))),
      Rejected("orphan_tool_output", "message 4")),
    C("tool output right after the preamble", T1, "cases.jsonl",
      edit("rej-orphan-first", lambda m: m.insert(2, bi.tool(OBSERVATION + "stray"))),
      Rejected("orphan_tool_output", "message 2")),
    # §3: submit
    C("no submit (cost limit)", T1, "cases.jsonl",
      edit("rej-no-submit", no_submit),
      Rejected("not_submitted", "no trailing submit")),
    C("no tool call at all", T1, "cases.jsonl",
      edit("rej-no-calls", lambda m: m[:2] + [bi.assistant("I give up.", name=None)]),
      Rejected("not_submitted", "there is no tool call")),
    # the first rule in spec order names the reject
    C("unknown role wins over unknown tool", T1, "cases.jsonl",
      edit("rej-order-role", lambda m: (bi.set_first_call(m, name="find_file"), setitem(m[5], "role", "critic"))),
      Rejected("unknown_role", "message 5")),
    C("parallel wins over unknown tool", T1, "cases.jsonl",
      edit("rej-order-parallel", lambda m: (bi.set_first_call(m, name="find_file"), m[2]["tool_calls"].append(m[2]["tool_calls"][0]))),
      Rejected("parallel_tool_calls", "message 2")),
    C("malformed arguments win over missing output", T1, "cases.jsonl",
      edit("rej-order-args", lambda m: (bi.set_first_call(m, arguments="{"), m.pop(3))),
      Rejected("malformed_tool_arguments", "message 2")),
    # odd rows that must convert
    C("control: an ordinary row", T1, "cases.jsonl",
      lambda: bi.valid_row("ok-control"),
      Converts(converted_plainly)),
    C("thought key missing", T1, "cases.jsonl",
      edit("ok-thought-missing", reasoning_of("<think>No thought key.</think>\nChecking the tree.", drop_thought=True)),
      Converts(first_reasoning_is("No thought key.\n\nChecking the tree."))),
    C("thought null", T1, "cases.jsonl",
      edit("ok-thought-null", reasoning_of("<think>Thought is null.</think>\nChecking the tree.", thought=None)),
      Converts(first_reasoning_is("Thought is null.\n\nChecking the tree."))),
    C("thought whitespace only", T1, "cases.jsonl",
      edit("ok-thought-blank", reasoning_of("<think>Thought is blank.</think>\nChecking the tree.", thought=" \n\t ")),
      Converts(first_reasoning_is("Thought is blank.\n\nChecking the tree."))),
    C("thought without think tags", T1, "cases.jsonl",
      edit("ok-no-think-tags", reasoning_of("  Plain reasoning, no tags.\n")),
      Converts(first_reasoning_is("Plain reasoning, no tags."))),
    C("unclosed think", T1, "cases.jsonl",
      edit("ok-unclosed-think", reasoning_of("<think>Opened, never closed.\nStill thinking.  ")),
      Converts(first_reasoning_is("Opened, never closed.\nStill thinking."))),
    C("empty thought and content", T1, "cases.jsonl",
      edit("ok-empty-reasoning", reasoning_of("")),
      Converts(filled_from_template)),
    C("tool arguments an object", T1, "cases.jsonl",
      edit("ok-args-object", lambda m: bi.set_first_call(m, name="bash", arguments={"command": "ls -la /testbed"})),
      Converts(first_call_is('{"name": "bash", "arguments": {"command": "ls -la /testbed"}}'))),
    C("tool arguments null", T1, "cases.jsonl",
      edit("ok-args-null", lambda m: bi.set_first_call(m, name="bash", arguments=None)),
      Converts(first_call_is('{"name": "bash", "arguments": {}}'))),
    C("messages a JSON array, not a string", T1, "cases.jsonl",
      lambda: bi.valid_row("ok-messages-array") | {"messages": bi.valid_messages(0)},
      Converts(same_messages_as_control)),
    C("extra keys everywhere, reused call ids", T1, "cases.jsonl",
      edit("ok-extra-keys", add_extra_keys_and_reuse_ids),
      Converts(same_messages_as_control)),
    C("only submits", T1, "cases.jsonl",
      edit("ok-only-submits", lambda m: m[:2] + bi.submit_step(REVIEW) + bi.submit_step("diff --git a/x b/x\n")),
      Converts(answer_only(n_trimmed=1))),
    C("one submit without output, nothing else", T1, "cases.jsonl",
      edit("ok-one-submit", lambda m: m[:2] + bi.submit_step(None)),
      Converts(answer_only(n_trimmed=0))),
    C("final submit without output, then text", T1, "cases.jsonl",
      edit("ok-final-submit-no-output", ends_with_text_only),
      Converts(trailing_text_in_answer_reasoning)),
    C("CRLF in a tool output", T1, "cases.jsonl",
      edit("ok-crlf", lambda m: bi.set_first_output(m, "line 1\r\nline 2\r\n")),
      Converts(first_output_is("line 1\r\nline 2\r\n"))),
    C("lone surrogate escape in messages", T1, "cases.jsonl",
      edit("ok-lone-surrogate-escaped", lambda m: bi.set_first_output(m, "before \ud800 after")),
      Converts(first_output_is("before \ufffd after", n_replaced=1))),
    C("lone surrogates and a pair, raw in the line", T1, "cases.jsonl",
      edit("ok-lone-surrogates-raw", lone_surrogates_raw, ensure_ascii=False),
      Converts(lone_surrogates_replaced)),
    C("lone surrogate in func_name", T1, "cases.jsonl",
      lambda: bi.valid_row("ok-lone-surrogate-meta") | {"func_name": "storage_\udfff_write"},
      Converts(surrogate_in_metadata_replaced)),
    C("astral and unusual unicode, NUL in metadata", T1, "cases.jsonl",
      edit("ok-unusual-unicode", unusual_unicode, ensure_ascii=False, func_name="écrire_𝔘𝔫𝔦_🐛", func_path="src/n\u0000ul\u2028.py"),
      Converts(unusual_unicode_kept)),
    C("instance_id null", T1, "cases.jsonl",
      lambda: bi.valid_row(None, index=8),
      Converts(converted_plainly)),
    C("instance_id shared with another dataset", T1, "cases.jsonl",
      lambda: bi.valid_row("dup-cross", index=3),
      Converts()),
    # sources.md: bad lines (file order: after cases.jsonl, by path)
    C("line before a truncated last line", T1, "lines/a_truncated_last_line.jsonl",
      lambda: bi.valid_row("line-before-truncated"),
      Converts()),
    C("truncated last line", T1, "lines/a_truncated_last_line.jsonl",
      lambda: bi.truncated_line(bi.valid_row("line-truncated")),
      Rejected("line_not_json", "not valid JSON")),
    C("invalid UTF-8 bytes", T1, "lines/b_invalid_utf8.jsonl",
      lambda: bi.invalid_utf8_line(bi.valid_row("line-bad-utf8")),
      Rejected("line_not_utf8", "invalid UTF-8 byte at offset")),
    C("UTF-8-encoded surrogate (CESU-8)", T1, "lines/b_invalid_utf8.jsonl",
      lambda: bi.invalid_utf8_line(bi.valid_row("line-cesu"), b"\xed\xa0\x80"),
      Rejected("line_not_utf8", "invalid UTF-8 byte")),
    C("Latin-1 line", T1, "lines/b_invalid_utf8.jsonl",
      lambda: bi.encode_row(bi.valid_row("line-latin1-café")).decode("utf-8").encode("latin-1", "replace"),
      Rejected("line_not_utf8", "invalid UTF-8 byte")),
    C("line after invalid UTF-8", T1, "lines/b_invalid_utf8.jsonl",
      lambda: bi.valid_row("line-after-bad-utf8"),
      Converts()),
    C("line a JSON list", T1, "lines/c_not_objects.jsonl",
      lambda: b"[1, 2, 3]",
      Rejected("line_not_an_object", "is an array")),
    C("line a JSON string", T1, "lines/c_not_objects.jsonl",
      lambda: b'"just a string"',
      Rejected("line_not_an_object", "not an object")),
    C("line a JSON number", T1, "lines/c_not_objects.jsonl",
      lambda: b"42",
      Rejected("line_not_an_object", "not an object")),
    C("line JSON null", T1, "lines/c_not_objects.jsonl",
      lambda: b"null",
      Rejected("line_not_an_object", "not an object")),
    C("line an empty object", T1, "lines/c_not_objects.jsonl",
      lambda: b"{}",
      Rejected("messages_missing", "null")),
    C("line among non-objects", T1, "lines/c_not_objects.jsonl",
      lambda: bi.valid_row("line-among-non-objects"),
      Converts()),
    C("all-bad file: a list", T1, "lines/d_all_bad.jsonl",
      lambda: b"[1]",
      Rejected("line_not_an_object", "is an array")),
    C("all-bad file: cut JSON", T1, "lines/d_all_bad.jsonl",
      lambda: b'{"messages": ',
      Rejected("line_not_json", "not valid JSON")),
    C("all-bad file: bad bytes", T1, "lines/d_all_bad.jsonl",
      lambda: b"\xff\xfe\x00",
      Rejected("line_not_utf8", "offset 0")),
    C("CRLF line ends and blank lines (1)", T1, "lines/e_crlf_blank.jsonl",
      lambda: bi.valid_row("line-crlf-1", index=1),
      Converts()),
    C("CRLF line ends and blank lines (2)", T1, "lines/e_crlf_blank.jsonl",
      lambda: bi.valid_row("line-crlf-2", index=2),
      Converts()),
    # sources.md: formats and columns
    C("extra columns", T1, "formats/columns.jsonl",
      lambda: bi.valid_row("col-extra") | {"line_level_recall": 0.99, "extra_note": "ignored"},
      Converts(ignored_columns)),
    C("keys missing from some rows only", T1, "formats/columns.jsonl",
      lambda: {k: v for k, v in bi.valid_row("col-missing-keys").items() if k not in ("func_path", "docker_image")},
      Converts(missing_keys_are_null)),
    C("null metadata and rollout_patch", T1, "formats/columns.jsonl",
      lambda: bi.valid_row("col-null-metadata") | {"func_name": None, "func_path": None, "rollout_patch": None},
      Converts(final_answer_from_last_output)),
    C("gzip'd JSONL (1)", T1, "formats/rows.jsonl.gz",
      lambda: bi.valid_row("fmt-gzip-1", index=4),
      Converts(converted_plainly)),
    C("gzip'd JSONL, rejected row", T1, "formats/rows.jsonl.gz",
      messages_column("fmt-gzip-empty", "[]"),
      Rejected("messages_empty", "empty list")),
    C("gzip'd JSONL (2)", T1, "formats/rows.jsonl.gz",
      lambda: bi.valid_row("fmt-gzip-2", index=5),
      Converts(converted_plainly)),
    C("zstd JSONL", T1, "formats/rows.jsonl.zst",
      lambda: bi.valid_row("fmt-zst-1", index=6),
      Converts(converted_plainly)),
    C("Parquet at depth", T1, "formats/nested/deeper/rows.parquet",
      lambda: bi.valid_row("fmt-parquet-1", index=7),
      Converts(converted_plainly)),
    C("Parquet, messages null", T1, "formats/nested/deeper/rows.parquet",
      messages_column("fmt-parquet-null", None),
      Rejected("messages_missing", "null")),
    # T2: a 50 MB row, duplicates
    C("duplicate instance_id (1)", T2, "duplicates.jsonl",
      lambda: bi.valid_row("dup-1", dataset=T2, index=1),
      Converts(dup_kept)),
    C("duplicate instance_id (2)", T2, "duplicates.jsonl",
      lambda: bi.valid_row("dup-1", dataset=T2, index=2),
      Converts(dup_kept)),
    C("instance_id shared with another dataset (T2)", T2, "duplicates.jsonl",
      lambda: bi.valid_row("dup-cross", dataset=T2, index=3),
      Converts()),
    C("a 50 MB row", T2, "huge/huge_row.jsonl",
      big_row,
      Converts(big_output_kept)),
]
CONTROL = next(c for c in CASES if c.name.startswith("control"))
NOT_READ = (".cache/ignored.jsonl", ".hidden.jsonl", "notes/README.md")


def source_row_of(case: Case) -> int:
    same_file = [c for c in CASES if c.source_file == case.source_file]
    return same_file.index(case)


def write_sources(sources: Path) -> dict[str, dict]:
    """Write every case in its file (cases of one file in table order); return the source row of each
    line by (source_file, source_row), for the checks."""
    files: dict[tuple[str, str], list[Case]] = {}
    for case in CASES:
        files.setdefault((case.dataset, case.file), []).append(case)
    written: dict[tuple[str, int], Any] = {}
    for (dataset, name), cases in files.items():
        items = [case.line() for case in cases]
        path = sources / dataset / name
        if name.endswith(".parquet"):
            bi.write_parquet(path, items)
        elif name.endswith(".jsonl.gz"):
            bi.write_gzip_jsonl(path, items)
        elif name.endswith(".jsonl.zst"):
            bi.write_zst_jsonl(path, items)
        elif "crlf_blank" in name:  # CRLF, blank and whitespace-only lines: skipped, not counted
            lines = [bi.as_line(items[0]), b"", b"  \t ", bi.as_line(items[1]), b""]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"\r\n".join(lines) + b"\r\n\r\n")
        else:
            bi.write_jsonl(path, items, final_newline="truncated" not in name)
        for row, (case, item) in enumerate(zip(cases, items, strict=True)):
            written[(case.source_file, row)] = item
    for name in NOT_READ:  # dot-names and non-data files are skipped (sources.md)
        bi.write_jsonl(sources / T1 / name, [b"this is not read", b"[1, 2"])
    return written


TABLES = {
    "converted": "select * from sera_rectified order by dataset_order, source_file, source_row",
    "rejects": "select * from sera_rectified_rejects order by source_dataset, source_file, source_row",
    "reconciliation": "select * from source_reconciliation order by source_dataset",
}


def read_tables(workdir: Path) -> dict[str, list[dict]]:
    """The rows of the tables the checks read (TABLES), as a build in workdir left them; a table the build
    did not make reads as no rows."""
    tables = {}
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        for name, sql in TABLES.items():
            try:
                cursor = connection.execute(sql)
            except duckdb.CatalogException:
                tables[name] = []
                continue
            names = [d[0] for d in cursor.description]
            tables[name] = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
    return tables


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One dbt build over every row-level case; the tables it produced, read back."""
    workdir = tmp_path_factory.mktemp("bad_rows")
    sources = workdir / "sources"
    written = write_sources(sources)
    result = dbt_build(workdir, vars={"sources_dir": str(sources), "datasets": [T1, T2]})
    # the tables are read even when the build failed (a failing data test only skips what is downstream),
    # so each case still reports on its own; test_row_level_build_succeeds reports the failure
    tables = read_tables(workdir)
    converted = tables["converted"]
    converted_by_key = {(r["source_file"], r["source_row"]): r for r in converted}
    return {
        "workdir": workdir,
        "result": result,
        "output": bi.plain(result.stdout),
        "written": written,
        "tables": tables,
        "converted": converted_by_key,
        "control_messages": converted_by_key[(CONTROL.source_file, source_row_of(CONTROL))]["messages"],
        "converted_order": [(r["source_file"], r["source_row"]) for r in converted],
        "rejects": {(r["source_file"], r["source_row"]): r for r in tables["rejects"]},
        "reconciliation": {r["source_dataset"]: r for r in tables["reconciliation"]},
    }


def test_row_level_build_succeeds(build: dict) -> None:
    """Bad rows never fail the build (sources.md); a 50 MB row is well within the 256 MiB rows must allow."""
    assert build["result"].returncode == 0, build["output"][-6000:] + build["result"].stderr[-2000:]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_row_level_case(build: dict, case: Case) -> None:
    key = (case.source_file, source_row_of(case))
    converted, rejected = build["converted"].get(key), build["rejects"].get(key)
    assert (converted is None) != (rejected is None), f"{key} must be in exactly one of sera_rectified / sera_rectified_rejects"
    if isinstance(case.expect, Rejected):
        assert rejected is not None, f"{case.name}: converted, expected reject {case.expect.reason}"
        assert rejected["reason"] == case.expect.reason, rejected["detail"]
        assert case.expect.detail in rejected["detail"], rejected["detail"]
        source = build["written"][key]
        if isinstance(source, dict):
            assert rejected["instance_id"] == source["instance_id"]
        return
    assert converted is not None, f"{case.name}: rejected as {rejected['reason']}: {rejected['detail']}"
    row = dict(converted)
    row["out"] = json.loads(row["messages"])
    row["source"] = build["written"][key]
    row["control_messages"] = build["control_messages"]
    assert row["instance_id"] == row["source"]["instance_id"]
    assert row["n_messages"] == len(row["out"]) == 3 * row["n_tool_calls"] + 4
    if case.expect.check:
        case.expect.check(row)


def test_invalid_utf8_detail_gives_the_byte_offset(build: dict) -> None:
    """The detail of a line_not_utf8 reject points at the first bad byte of the line."""
    rejects = [(key, r) for key, r in build["rejects"].items() if r["reason"] == "line_not_utf8"]
    assert len(rejects) == sum(isinstance(c.expect, Rejected) and c.expect.reason == "line_not_utf8" for c in CASES)
    for key, reject in rejects:
        with pytest.raises(UnicodeDecodeError) as err:
            build["written"][key].decode("utf-8")
        assert f"offset {err.value.start} " in reject["detail"], (key, reject["detail"])


def test_every_line_is_out_or_rejected_and_nothing_else(build: dict) -> None:
    expected = set(build["written"])
    assert set(build["converted"]) | set(build["rejects"]) == expected
    assert not set(build["converted"]) & set(build["rejects"])


def test_reconciliation_rows_read_equals_out_plus_rejected(build: dict) -> None:
    for dataset in (T1, T2):
        cases = [c for c in CASES if c.dataset == dataset]
        n_rejected = sum(isinstance(c.expect, Rejected) for c in cases)
        assert dataset in build["reconciliation"], "source_reconciliation was not built"
        row = build["reconciliation"][dataset]
        assert (row["rows_read"], row["rows_out"], row["rows_rejected"]) == (len(cases), len(cases) - n_rejected, n_rejected)
        assert row["rows_read"] == row["rows_out"] + row["rows_rejected"]


def test_duplicate_instance_ids_are_kept_and_warned(build: dict) -> None:
    dups = [r for r in build["converted"].values() if r["instance_id"] == "dup-1"]
    assert len(dups) == 2
    lines = [line for line in build["output"].splitlines() if "warn_duplicate_instance_ids" in line]
    assert any("WARN 1" in line for line in lines), "\n".join(lines) or build["output"][-3000:]
    assert "Got 1 result, configured to warn if != 0" in build["output"]
    assert re.search(r"Done\. PASS=\d+ WARN=[1-9]\d* ERROR=0 ", build["output"]), build["output"][-1500:]
    assert build["result"].returncode == 0


def test_export_holds_the_converted_rows_in_order(build: dict) -> None:
    export = build["workdir"] / "output" / EXPORT_NAME
    table = pq.read_table(export)
    expected = sorted(build["converted"], key=lambda key: (DATASET_ORDER[key[0].split("/")[0]], key[0], key[1]))
    assert build["converted_order"] == expected
    assert table.column("messages").to_pylist() == [build["converted"][key]["messages"] for key in expected]
    for column in ("instance_id", "func_name", "func_path", "line_level_recall"):
        assert table.column(column).to_pylist() == [build["converted"][key][column] for key in expected], column
    assert not list(export.parent.glob("*.tmp-*"))


def test_export_passes_the_contract_validator(build: dict) -> None:
    if not CHECK_OUTPUT.exists():
        pytest.skip(f"{CHECK_OUTPUT} is not beside the repo")
    export = build["workdir"] / "output" / EXPORT_NAME
    result = subprocess.run([sys.executable, str(CHECK_OUTPUT), str(export)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.strip().endswith(" 0 violations")


def test_ray_engine_gives_the_same_tables_and_export(build: dict, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The same sources built once more with `engine: ray` (a Ray of 2 CPUs started by the build; issue 16):
    every converted row, reject and count is the local build's, and the export has the same bytes."""
    workdir = tmp_path_factory.mktemp("bad_rows_ray")
    sources = build["workdir"] / "sources"
    result = dbt_build(workdir, vars={"sources_dir": str(sources), "datasets": [T1, T2], "engine": "ray"}, env={"SERA_THREADS": "2"})
    assert result.returncode == build["result"].returncode == 0, bi.plain(result.stdout)[-6000:] + result.stderr[-2000:]
    tables = read_tables(workdir)
    for name in TABLES:
        assert len(tables[name]) == len(build["tables"][name]), name
        assert tables[name] == build["tables"][name], name
    assert bi.sha256(workdir / "output" / EXPORT_NAME) == bi.sha256(build["workdir"] / "output" / EXPORT_NAME)


# ---------------------------------------------------------------------------------------------
# File-level errors: each its own build, which must fail, say what/where/what to do, keep the export


def good_file(sources: Path, dataset: str = T1) -> Path:
    return bi.write_jsonl(sources / dataset / "rows.jsonl", [bi.valid_row("fl-ok")])


def missing_folder(sources: Path) -> list[str]:
    good_file(sources)
    return [str(sources / T2), "is missing", "sources_dir", "datasets"]


def empty_folder(sources: Path) -> list[str]:
    good_file(sources)
    bi.write_jsonl(sources / T2 / ".cache" / "rows.jsonl", [bi.valid_row("hidden")])
    (sources / T2 / "README.md").write_text("nothing here")
    return [str(sources / T2), "holds no data file", "*.jsonl", "sources_dir"]


def missing_column(sources: Path) -> list[str]:
    good_file(sources)
    rows = [{k: v for k, v in bi.valid_row(f"nocol-{i}", dataset=T2, index=i).items() if k != "docker_image"} for i in range(2)]
    path = bi.write_jsonl(sources / T2 / "rows.jsonl", rows + [b"[1, 2, 3]"])
    return [str(path), "no column docker_image", "published columns", f"check that the file belongs to dataset {T2}"]


def missing_column_parquet(sources: Path) -> list[str]:
    good_file(sources)
    path = bi.write_parquet(sources / T2 / "rows.parquet", [bi.valid_row("pq", dataset=T2)], [c for c in bi.COLUMNS if c != "target_patch"])
    return [str(path), "no column target_patch", f"check that the file belongs to dataset {T2}"]


def corrupt_parquet(sources: Path) -> list[str]:
    good_file(sources)
    path = bi.write_corrupt_parquet(sources / T2 / "rows.parquet", [bi.valid_row("pq", dataset=T2)])
    return [str(path), "cannot read Parquet file", "Re-download"]


def corrupt_gzip(sources: Path) -> list[str]:
    good_file(sources)
    path = bi.write_truncated_gzip(sources / T2 / "rows.jsonl.gz", [bi.valid_row(f"gz-{i}", dataset=T2, index=i) for i in range(3)])
    return [str(path), "cannot read", "Re-download"]


def corrupt_zstd(sources: Path) -> list[str]:
    good_file(sources)
    path = sources / T2 / "rows.jsonl.zst"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"this is not a zstd frame" * 20)
    return [str(path), "cannot read", "Re-download"]


def unknown_dataset(sources: Path) -> list[str]:
    good_file(sources)
    good_file(sources, T2)
    return ["var datasets", "Sera-9-Mega-T1", "seeds/sera_datasets.csv", "Valid values: Sera-4.5A-Full-T1, Sera-4.5A-Full-T2, Sera-4.6-Lite-T1, Sera-4.6-Lite-T2"]


@dataclass(frozen=True)
class FileCase:
    write: Callable[[Path], list[str]]  # writes the sources; returns words the error output must hold
    datasets: tuple[str, ...] = (T1, T2)
    previous_export: bool = False  # a good export already at export_path: it must stay byte for byte


FILE_CASES = {
    "dataset folder missing": FileCase(missing_folder, previous_export=True),
    "dataset folder empty": FileCase(empty_folder),
    "required column missing (JSONL)": FileCase(missing_column, previous_export=True),
    "required column missing (Parquet)": FileCase(missing_column_parquet),
    "corrupt Parquet": FileCase(corrupt_parquet, previous_export=True),
    "corrupt gzip": FileCase(corrupt_gzip),
    "corrupt zstd": FileCase(corrupt_zstd, previous_export=True),
    "unknown dataset in the datasets var": FileCase(unknown_dataset, (T1, "Sera-9-Mega-T1")),
}
# Two lanes run side by side; within a lane the cases run one after the other in one workdir with the
# same dbt vars, so dbt parses the project once per lane (the case with other vars goes last).
LANES = (list(FILE_CASES)[0::2], list(FILE_CASES)[1::2])


def previous_export(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({"messages": ["previous good export"]}), path)
    return bi.sha256(path)


def run_file_case(workdir: Path, name: str) -> dict:
    """One case's build in `workdir`, with fresh sources and output folders."""
    case = FILE_CASES[name]
    sources, export = workdir / "sources", workdir / "output" / EXPORT_NAME
    for folder in (sources, export.parent):
        shutil.rmtree(folder, ignore_errors=True)
    words = case.write(sources)
    before = previous_export(export) if case.previous_export else None
    result = dbt_build(workdir, vars={"sources_dir": str(sources), "datasets": list(case.datasets)})
    return {"result": result, "output": bi.plain(result.stdout), "words": words, "export": export, "before": before}


def run_lane(workdir: Path, names: list[str]) -> dict[str, dict]:
    names = sorted(names, key=lambda name: FILE_CASES[name].datasets != (T1, T2))
    return {name: run_file_case(workdir, name) for name in names}


@pytest.fixture(scope="module")
def file_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """Every file-level case's build (each one a separate `dbt build`), in two lanes side by side."""
    root = tmp_path_factory.mktemp("bad_files")
    with ThreadPoolExecutor(max_workers=len(LANES)) as pool:
        lanes = [pool.submit(run_lane, root / f"lane_{k}", names) for k, names in enumerate(LANES)]
        return {name: run for lane in lanes for name, run in lane.result().items()}


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_file_level_error_fails_the_build_with_an_actionable_message(file_builds: dict, name: str) -> None:
    run = file_builds[name]
    output = run["output"]
    assert run["result"].returncode == 1, output[-4000:]
    summary = output.split("Completed with 1 error", 1)
    assert len(summary) == 2, output[-4000:]
    missing = [word for word in run["words"] if word not in summary[1]]
    assert not missing, f"the error summary lacks {missing}:\n{summary[1][-4000:]}"


@pytest.mark.parametrize("name", list(FILE_CASES))
def test_failed_build_leaves_the_export_as_it_was(file_builds: dict, name: str) -> None:
    run = file_builds[name]
    if run["before"] is None:
        assert not run["export"].exists()
    else:
        assert bi.sha256(run["export"]) == run["before"]
    assert not list(run["export"].parent.glob("*.tmp-*"))

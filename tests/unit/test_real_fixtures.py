"""The converter on real published data (tests/fixtures/, see the ATTRIBUTION.md files there).

- sera/: the first three rows of allenai/Sera-4.6-Lite-T2, in the published column layout.
- swe-agent/: eight real SWE-agent trajectories; three (SWE-smith, SWE-agent 1.x with bash /
  str_replace_editor / submit) convert, the five older ones reject, each for the reason the spec gives.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from sera_rectify import reasons
from sera_rectify.convert import Converted, Reject, convert_trajectory
from sera_rectify.rows import output_row
from sera_testkit.constants import FIXTURES_DIR, OBSERVATION, PACKAGE_SPEC_DIR, SERA_ROWS_DATASET, SERA_ROWS_FILE, SHARED_DIR

THINK = re.compile(r"<think>(.*?)</think>(.*)", re.DOTALL)


def system_text(source_system: str) -> str:
    template = (PACKAGE_SPEC_DIR / "system-prompt.txt").read_bytes().decode("utf-8")
    tools = json.loads((PACKAGE_SPEC_DIR / "tools.json").read_bytes().decode("utf-8"))
    head, rest = template.split("{tools_json}")
    middle, tail = rest.split("{source_system}")
    return head + json.dumps(tools, ensure_ascii=False) + middle + source_system + tail


def template_text(dataset: str, instance_id: str | None, position: int) -> str:
    lines = (PACKAGE_SPEC_DIR / "reasoning-templates.txt").read_bytes().decode("utf-8").splitlines()
    key = f"{dataset}\n{instance_id or ''}\n{position}".encode()
    return lines[int(hashlib.sha256(key).hexdigest(), 16) % 12]


def flat(content: Any) -> str:
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def check_output_row(result: Converted) -> list[dict]:
    out = json.loads(result.messages)
    assert result.messages == json.dumps(out, ensure_ascii=False)
    assert result.n_messages == len(out) == 3 * result.n_tool_calls + 4
    assert [m["role"] for m in out] == ["system", "user"] + ["reasoning", "tool_call", "tool_output"] * result.n_tool_calls + ["reasoning", "answer"]
    for message in out:
        tags = {"reasoning": ("<think>", "</think>"), "tool_call": ("<tool_call>", "</tool_call>"), "tool_output": ("<tool_response>", "</tool_response>"), "answer": ("<answer>", "</answer>")}
        if message["role"] in tags:
            start, end = tags[message["role"]]
            assert message["content"].startswith(start) and message["content"].endswith(end)
        if message["role"] == "tool_call":
            call = json.loads(message["content"][len("<tool_call>") : -len("</tool_call>")])
            assert list(call) == ["name", "arguments"] and isinstance(call["arguments"], dict)
            assert call["name"] in {"bash", "str_replace_editor", "submit"}
        if message["role"] == "reasoning":
            assert message["content"] != "<think></think>"
    return out


# ---------------------------------------------------------------------------------------------
# Real SERA rows


SERA_EXPECTED = [
    # instance_id, n_messages, n_tool_calls, n_trimmed_submits, line_level_recall
    ("tinydb_10309", 52, 16, 0, 1.0),
    ("ptyprocess_10174", 82, 26, 1, 0.4074074074074074),
    ("cantools_10317", 109, 35, 0, 0.5),
]


def test_sera_fixture_is_the_published_sample(sera_rows: list[dict]) -> None:
    assert [row["instance_id"] for row in sera_rows] == [expected[0] for expected in SERA_EXPECTED]
    assert all(isinstance(row["messages"], str) for row in sera_rows)
    shared = SHARED_DIR / "fixtures" / "sera" / SERA_ROWS_FILE.name
    if shared.is_file():
        assert SERA_ROWS_FILE.read_bytes() == shared.read_bytes()
    assert (FIXTURES_DIR / "sera" / "ATTRIBUTION.md").is_file()


@pytest.mark.parametrize("row_index", range(3))
def test_sera_row_converts(sera_rows: list[dict], row_index: int) -> None:
    row = sera_rows[row_index]
    instance_id, n_messages, n_tool_calls, n_trimmed, _ = SERA_EXPECTED[row_index]
    result = convert_trajectory(row["messages"], dataset=SERA_ROWS_DATASET, instance_id=row["instance_id"], rollout_patch=row["rollout_patch"])
    assert isinstance(result, Converted), result
    assert (result.n_messages, result.n_tool_calls, result.n_trimmed_submits) == (n_messages, n_tool_calls, n_trimmed)
    assert (result.n_folded_texts, result.n_filled_reasoning, result.n_replaced_chars) == (0, 0, 0)
    out = check_output_row(result)
    assert out[-1] == {"role": "answer", "content": "<answer>" + row["rollout_patch"] + "</answer>"}


@pytest.mark.parametrize("row_index", range(3))
def test_sera_row_exact_output(sera_rows: list[dict], row_index: int) -> None:
    """The whole output rebuilt independently from the source (real rows: one think block per
    message, thought == content, one call per message, no text-only message)."""
    row = sera_rows[row_index]
    source = json.loads(row["messages"])
    calls = [i for i, m in enumerate(source) if m["role"] == "assistant"]
    names = [source[i]["tool_calls"][0]["function"]["name"] for i in calls]
    run_start = len(names)
    while run_start > 0 and names[run_start - 1] == "submit":
        run_start -= 1

    def reasoning(message: dict) -> str:
        inner, commentary = THINK.fullmatch(message["thought"]).groups()
        return "<think>" + "\n\n".join(piece for piece in (inner.strip(), commentary.strip()) if piece) + "</think>"

    expected = [{"role": "system", "content": system_text(source[0]["content"])}, {"role": "user", "content": flat(source[1]["content"])}]
    for i in calls[:run_start]:
        function = source[i]["tool_calls"][0]["function"]
        output = flat(source[i + 1]["content"])
        expected += [
            {"role": "reasoning", "content": reasoning(source[i])},
            {"role": "tool_call", "content": "<tool_call>" + json.dumps({"name": function["name"], "arguments": json.loads(function["arguments"])}, ensure_ascii=False) + "</tool_call>"},
            {"role": "tool_output", "content": "<tool_response>" + (output[len(OBSERVATION) :] if output.startswith(OBSERVATION) else output) + "</tool_response>"},
        ]
    expected += [{"role": "reasoning", "content": reasoning(source[calls[run_start]])}, {"role": "answer", "content": "<answer>" + row["rollout_patch"] + "</answer>"}]
    result = convert_trajectory(row["messages"], dataset=SERA_ROWS_DATASET, instance_id=row["instance_id"], rollout_patch=row["rollout_patch"])
    assert result.messages == json.dumps(expected, ensure_ascii=False)


def test_sera_rows_shapes(sera_rows: list[dict]) -> None:
    # rows 0 and 2: submit, review, clean-up, submit -> the first submit stays a cycle;
    # row 1: submit, submit -> the second is trimmed
    for row, kept_submits in zip(sera_rows, (1, 0, 1), strict=True):
        result = convert_trajectory(row["messages"], dataset=SERA_ROWS_DATASET, instance_id=row["instance_id"], rollout_patch=row["rollout_patch"])
        calls = [m["content"] for m in json.loads(result.messages) if m["role"] == "tool_call"]
        assert calls.count('<tool_call>{"name": "submit", "arguments": {}}</tool_call>') == kept_submits
        assert "Thank you for your work on this issue." in result.messages or kept_submits == 0


@pytest.mark.parametrize("row_index", range(3))
def test_sera_row_through_output_row(sera_rows: list[dict], row_index: int) -> None:
    row = sera_rows[row_index]
    instance_id, n_messages, n_tool_calls, n_trimmed, recall = SERA_EXPECTED[row_index]
    record = output_row(row, SERA_ROWS_DATASET, "T2")
    assert "reject_reason" not in record
    assert record["instance_id"] == instance_id
    assert record["func_name"] == row["func_name"] and record["func_path"] == row["func_path"]
    assert record["line_level_recall"] == recall
    assert (record["n_messages"], record["n_tool_calls"], record["n_trimmed_submits"]) == (n_messages, n_tool_calls, n_trimmed)
    assert record["n_chars"] == len(record["messages"])
    # recall is null for every T1 row
    assert output_row(row, "Sera-4.6-Lite-T1", "T1")["line_level_recall"] is None


def test_sera_row_messages_given_as_list(sera_rows: list[dict]) -> None:
    row = sera_rows[0]
    as_string = output_row(row, SERA_ROWS_DATASET, "T2")
    as_list = output_row(dict(row, messages=json.loads(row["messages"])), SERA_ROWS_DATASET, "T2")
    assert as_list == as_string


# ---------------------------------------------------------------------------------------------
# Real SWE-agent trajectories


SWE_SMITH = [
    # file, n_messages, n_tool_calls, n_trimmed_submits, n_filled_reasoning
    # pr_53652: submit at 70, clean-up at 72, submit at 74; empty thought and content at 24 and 54 (filled)
    ("swe-smith__pandas-dev__pandas.95280573.pr_53652.traj", 112, 36, 0, 2),
    # pr_53856: submit at 30, clean-up at 32, submit at 34
    ("swe-smith__pandas-dev__pandas.95280573.pr_53856.traj", 52, 16, 0, 0),
    # pr_8316: submit at 40, clean-up at 42, submit at 44 with empty thought: the answer's reasoning is filled
    ("swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj", 67, 21, 0, 1),
]


@pytest.mark.parametrize("name, n_messages, n_tool_calls, n_trimmed, n_filled", SWE_SMITH)
def test_swe_smith_trajectory_converts(swe_agent_fixture, name: str, n_messages: int, n_tool_calls: int, n_trimmed: int, n_filled: int) -> None:
    history, submission = swe_agent_fixture(name)
    instance_id = name.removesuffix(".traj")
    assert isinstance(submission, str) and submission
    result = convert_trajectory(history, dataset="swe-agent", instance_id=instance_id, rollout_patch=submission)
    assert isinstance(result, Converted), result
    assert (result.n_messages, result.n_tool_calls, result.n_trimmed_submits, result.n_filled_reasoning) == (n_messages, n_tool_calls, n_trimmed, n_filled)
    out = check_output_row(result)
    assert out[-1]["content"] == "<answer>" + submission + "</answer>"
    assert out[0]["content"] == system_text(history[0]["content"])
    # the last tool message holds the final diff, so the null-rollout_patch fallback gives the same answer
    last_output = flat(history[-1]["content"])
    assert last_output.startswith(OBSERVATION)
    fallback = convert_trajectory(history, dataset="swe-agent", instance_id=instance_id, rollout_patch=None)
    assert json.loads(fallback.messages)[-1]["content"] == "<answer>" + last_output[len(OBSERVATION) :] + "</answer>"


def test_swe_smith_filled_reasoning_positions(swe_agent_fixture) -> None:
    name = "swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj"
    history, submission = swe_agent_fixture(name)
    assert history[44]["thought"] == "" and history[44]["content"] == "" and history[44]["tool_calls"][0]["function"]["name"] == "submit"
    instance_id = name.removesuffix(".traj")
    out = json.loads(convert_trajectory(history, dataset="swe-agent", instance_id=instance_id, rollout_patch=submission).messages)
    assert out[65] == {"role": "reasoning", "content": "<think>" + template_text("swe-agent", instance_id, 65) + "</think>"}
    # no instance id: "" in the key
    out = json.loads(convert_trajectory(history, dataset="swe-agent", instance_id=None, rollout_patch=submission).messages)
    assert out[65]["content"] == "<think>" + template_text("swe-agent", None, 65) + "</think>"


SWE_AGENT_REJECTS = [
    # Older tool bundle: message 2 calls `find_file`, not in tools.json. The trajectory also ends without a
    # submit (not_submitted), but §2's walk comes before §3, so the unknown tool names the reject.
    ("swe-agent__6e44b9__sweagenttestrepo-1c2844.traj", reasons.UNKNOWN_TOOL, 2, "find_file"),
    # Older tool bundle; only a `history` key (no info.submission): message 2 calls `find_file`.
    ("swe-agent__function_calling_simple.traj", reasons.UNKNOWN_TOOL, 2, "find_file"),
    # Message 2 is a valid bash call with its output; message 4 calls `open` (older tool bundle). Its reused
    # tool-call ids (12/14, 16/18, 22/24) would not matter: pairing is by position.
    ("swe-agent__marshmallow-code__marshmallow-1867.traj", reasons.UNKNOWN_TOOL, 4, "open"),
    # Pre-1.0: no tool calls, observations as user messages. Message 1 is a user demonstration, message 2 the
    # task as a second user message: §1's unexpected_user_message, before any §2 or §3 problem.
    ("swe-agent__pydicom__pydicom-1458.traj", reasons.UNEXPECTED_USER_MESSAGE, 2, None),
    # YAML demonstration: no system message, the list starts with the user message: bad_preamble at 0.
    ("swe-agent__str_replace_anthropic_demo.yaml", reasons.BAD_PREAMBLE, 0, None),
]


@pytest.mark.parametrize("name, reason, index, tool", SWE_AGENT_REJECTS)
def test_swe_agent_trajectory_rejects(swe_agent_fixture, name: str, reason: str, index: int, tool: str | None) -> None:
    history, submission = swe_agent_fixture(name)
    result = convert_trajectory(history, dataset="swe-agent", instance_id=Path(name).stem, rollout_patch=submission)
    assert isinstance(result, Reject)
    assert result.reason == reason, result
    assert re.search(rf"(?<![0-9]){index}(?![0-9])", result.detail), result.detail
    if tool is not None:
        assert history[index]["tool_calls"][0]["function"]["name"] == tool
        assert tool in result.detail


def test_swe_agent_rejects_are_right_by_the_spec(swe_agent_fixture) -> None:
    """The facts the reasons above rest on, read off the files."""
    history, _ = swe_agent_fixture("swe-agent__6e44b9__sweagenttestrepo-1c2844.traj")
    names = [m["tool_calls"][0]["function"]["name"] for m in history if m.get("tool_calls")]
    assert names == ["find_file", "open", "edit", "bash"]  # no submit at all

    history, submission = swe_agent_fixture("swe-agent__function_calling_simple.traj")
    assert submission is None
    assert [m["role"] for m in history[:2]] == ["system", "user"]

    history, _ = swe_agent_fixture("swe-agent__marshmallow-code__marshmallow-1867.traj")
    assert history[2]["tool_calls"][0]["function"]["name"] == "bash" and history[3]["role"] == "tool"
    ids = [m["tool_calls"][0]["id"] for m in history if m.get("tool_calls")]
    assert len(ids) > len(set(ids))  # ids reused

    history, _ = swe_agent_fixture("swe-agent__pydicom__pydicom-1458.traj")
    assert [m["role"] for m in history[:3]] == ["system", "user", "user"]
    assert not any(m.get("tool_calls") for m in history)
    assert {m["role"] for m in history} == {"system", "user", "assistant"}

    history, _ = swe_agent_fixture("swe-agent__str_replace_anthropic_demo.yaml")
    assert history[0]["role"] == "user" and all(m["role"] != "system" for m in history)
    assert all("thought" not in m for m in history)


def test_swe_agent_yaml_demonstration_only_lacks_a_system_message(swe_agent_fixture) -> None:
    """With a system message put in front, the demonstration (bash-free str_replace_editor + submit, no
    `thought` key, plain string contents) converts: the preamble is the only thing wrong with it."""
    history, _ = swe_agent_fixture("swe-agent__str_replace_anthropic_demo.yaml")
    fixed = [{"role": "system", "content": "You are a helpful assistant."}] + history
    result = convert_trajectory(fixed, dataset="swe-agent", instance_id="demo", rollout_patch=None)
    assert isinstance(result, Converted), result
    out = check_output_row(result)
    assert out[-1]["content"] == "<answer>" + flat(history[-1]["content"]) + "</answer>"

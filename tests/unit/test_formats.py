"""The source formats (formats.py, docs/formats.md) on the real rows of tests/fixtures/other-formats/:
what converts, what is rejected and why, and each mapping rule on the row that forced it."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sera_rectify import formats, reasons, sft
from sera_rectify.actions import split_parallel_calls, xml_parameter_value
from sera_rectify.parts import build_parts, read_parts
from sera_rectify.render import ToolSet, sera_tools, tool_set
from sera_rectify.rows import output_row
from sera_rectify.sources import SourceFile, list_source_files, traj_record
from sera_rectify.tool_lists import command_docs_tools, function_list_tools, replay_config
from sera_testkit.constants import OTHER_FORMATS_DIR, SWE_AGENT_DIR

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden" / "formats"


def json_rows(folder: str) -> list[dict]:
    (path,) = (OTHER_FORMATS_DIR / folder).glob("*.json")
    return json.loads(path.read_text())


def traj(path: Path) -> dict:
    record = traj_record(path.read_bytes(), SourceFile("d", f"d/{path.name}", str(path), "traj"))
    assert isinstance(record, dict)
    return record


def converted(record: dict, source_format: str) -> dict[str, Any]:
    row = output_row(record, "d", "T1", None, source_format)
    assert "reject_reason" not in row, row.get("reject_detail")
    return row


def tools_of(row: dict) -> ToolSet:
    return tool_set(json.loads(row["tools"]), frozenset())


def check_strict(row: dict) -> list[Any]:
    """The row is the strict format (sft.untagged_texts raises NotRectified otherwise), its system message
    embeds the row's own tools, and every tool call names one of them. Returns the untagged texts."""
    tools = tools_of(row)
    texts = sft.untagged_texts(json.loads(row["messages"]), tools)
    calls = [text for text in texts if not isinstance(text, str)]
    assert calls and {call.name for call in calls} <= tools.names
    return texts


# ---------------------------------------------------------------------------------------------
# which real rows convert, per format

OUTCOMES = {
    # every SWE-smith row ends with <function=submit>
    ("swe-smith-xml", formats.SWE_SMITH_XML): {"converted": 17},
    # every nebius row ends with a fenced `submit`
    ("swe-agent-text", formats.SWE_AGENT_TEXT): {"converted": 5},
    # 6 runs end with `finish`; 7 were stopped by the iteration limit (maxiter_30/50) before finishing
    ("openhands", formats.OPENHANDS): {"converted": 6, reasons.NOT_SUBMITTED: 7},
}


@pytest.mark.parametrize(("folder", "source_format"), list(OUTCOMES))
def test_real_rows_convert_or_are_rejected_with_the_reason_expected(folder: str, source_format: str) -> None:
    outcomes: Counter[str] = Counter()
    for record in json_rows(folder):
        row = output_row(record, "d", "T1", None, source_format)
        outcomes[row.get("reject_reason") or "converted"] += 1
        if "reject_reason" not in row:
            check_strict(row)
    assert dict(outcomes) == OUTCOMES[(folder, source_format)]


@pytest.mark.parametrize(
    ("path", "source_format"),
    [
        (
            OTHER_FORMATS_DIR / "swe-agent-traj-calls" / "demo-function_calling_replace__marshmallow-code__marshmallow-1867.traj",
            "swe-agent",
        ),
        (SWE_AGENT_DIR / "swe-agent__marshmallow-code__marshmallow-1867.traj", "swe-agent"),
        *[(path, "swe-agent-text") for path in sorted((OTHER_FORMATS_DIR / "swe-agent-traj-text").glob("*.traj"))],
        (SWE_AGENT_DIR / "swe-agent__pydicom__pydicom-1458.traj", "swe-agent-text"),
    ],
    ids=lambda value: value.name if isinstance(value, Path) else value,
)
def test_real_traj_files_of_other_tool_bundles_convert(path: Path, source_format: str) -> None:
    """Under SERA's rules these are `unknown_tool` / `unexpected_user_message` rejects."""
    assert "reject_reason" in output_row(traj(path), "d", "T1")
    row = converted(traj(path), source_format)
    check_strict(row)
    assert row["exit_status"] == "submitted"


def test_real_traj_files_that_stay_rejects_say_why() -> None:
    no_docs = output_row(traj(SWE_AGENT_DIR / "swe-agent__function_calling_simple.traj"), "d", "T1", None, "swe-agent")
    assert no_docs["reject_reason"] == reasons.TOOLS_NOT_DECLARED
    cut = output_row(traj(SWE_AGENT_DIR / "swe-agent__6e44b9__sweagenttestrepo-1c2844.traj"), "d", "T1", None, "swe-agent")
    assert (cut["reject_reason"], cut["reject_detail"]) == (
        reasons.NOT_SUBMITTED,
        "no trailing submit: the last tool call (message 8) is 'bash'",
    )


def test_sera_rows_of_swe_smith_traj_files_are_the_same_under_swe_agent() -> None:
    """SWE-smith's .traj files declare SERA's three tools in their command docs; only the descriptions
    differ, so the system message differs and the rest is the same."""
    record = traj(SWE_AGENT_DIR / "swe-smith__pandas-dev__pandas.95280573.pr_53652.traj")
    as_sera, as_swe_agent = converted(record, "sera"), converted(record, "swe-agent")
    assert tools_of(as_swe_agent).names == sera_tools().names
    assert json.loads(as_sera["messages"])[1:] == json.loads(as_swe_agent["messages"])[1:]
    assert as_swe_agent["teacher"] == "claude-3-7-sonnet-20250219" and as_sera["teacher"] is None


# ---------------------------------------------------------------------------------------------
# metadata


def test_teacher_resolved_exit_status_and_patch_come_from_the_row() -> None:
    smith = json_rows("swe-smith-xml")[0]
    row = converted(smith, formats.SWE_SMITH_XML)
    assert (row["teacher"], row["resolved"], row["exit_status"]) == ("claude-3-7-sonnet-20250219", True, None)
    assert json.loads(row["messages"])[-1]["content"] == "<answer>" + smith["patch"] + "</answer>"

    nebius = json_rows("swe-agent-text")[3]
    row = converted(nebius, formats.SWE_AGENT_TEXT)
    assert (row["teacher"], row["resolved"], row["exit_status"]) == ("swe-agent-llama-405b", True, "submitted")
    assert json.loads(row["messages"])[-1]["content"] == "<answer>" + nebius["generated_patch"] + "</answer>"

    openhands = json_rows("openhands")[0]
    row = converted(openhands, formats.OPENHANDS)
    assert (row["teacher"], row["resolved"]) == (None, True)  # no model column: the declared teacher applies
    assert json.loads(row["messages"])[-1]["content"] == "<answer>" + openhands["test_result"]["git_patch"] + "</answer>"


def test_a_replayed_demonstration_names_no_teacher() -> None:
    record = traj(SWE_AGENT_DIR / "swe-agent__marshmallow-code__marshmallow-1867.traj")
    assert replay_config(record)["agent"]["model"]["name"] == "replay"
    assert converted(record, "swe-agent")["teacher"] is None


# ---------------------------------------------------------------------------------------------
# tools come from the source


def test_swe_smith_tools_are_the_system_prompts_function_list() -> None:
    system = json_rows("swe-smith-xml")[0]["messages"][0]["content"]
    schemas = {schema["function"]["name"]: schema["function"] for schema in function_list_tools(system)}
    assert list(schemas) == ["bash", "submit", "str_replace_editor"]
    editor = schemas["str_replace_editor"]["parameters"]
    assert editor["required"] == ["command", "path"]
    assert editor["properties"]["command"]["enum"] == ["view", "create", "str_replace", "insert", "undo_edit"]
    assert editor["properties"]["view_range"]["type"] == "array"
    assert schemas["submit"]["parameters"] == {"type": "object", "properties": {}}
    assert schemas["bash"]["description"] == "Execute a bash command in the terminal."


def test_swe_agent_tools_are_the_runs_command_docs() -> None:
    record = traj(OTHER_FORMATS_DIR / "swe-agent-traj-calls" / "demo-function_calling_replace__marshmallow-code__marshmallow-1867.traj")
    docs = replay_config(record)["agent"]["tools"]["command_docs"]
    schemas = {schema["function"]["name"]: schema["function"] for schema in command_docs_tools(docs)}
    assert {"bash", "goto", "open", "create", "find_file", "search_dir", "search_file", "edit", "insert", "submit"} <= set(schemas)
    assert schemas["open"]["parameters"]["required"] == ["path"]
    assert schemas["open"]["parameters"]["properties"]["line_number"]["type"] == "integer"
    assert "required" not in schemas["submit"]["parameters"]


def test_a_call_to_a_tool_the_source_does_not_declare_is_rejected() -> None:
    record = copy.deepcopy(json_rows("openhands")[0])
    call = next(m for m in record["messages"] if m.get("tool_calls"))["tool_calls"][0]
    call["function"]["name"] = "browser"
    row = output_row(record, "d", "T1", None, formats.OPENHANDS)
    assert row["reject_reason"] == reasons.UNKNOWN_TOOL and "'browser'" in row["reject_detail"]


def test_openhands_tools_lose_the_nulls_a_parquet_copy_added() -> None:
    record = json_rows("openhands")[0]
    assert '"enum": null' in json.dumps(record["tools"])
    row = converted(record, formats.OPENHANDS)
    assert "null" not in row["tools"]
    assert [tool["function"]["name"] for tool in json.loads(row["tools"])] == ["execute_bash", "finish", "str_replace_editor"]
    assert row["tools"] in json.loads(row["messages"])[0]["content"]


def test_sera_rows_keep_spec_tools() -> None:
    sera_row = json.loads((SWE_AGENT_DIR.parent / "sera" / "sera-4.6-lite-t2_sample_raw.json").read_text())[0]
    assert output_row(sera_row, "d", "T2")["tools"] == sera_tools().schemas_json


# ---------------------------------------------------------------------------------------------
# the mapping rules, each on the real row that forced it


def test_swe_smith_reasoning_is_the_text_before_the_call_and_parameters_are_the_arguments() -> None:
    record = json_rows("swe-smith-xml")[0]
    row = converted(record, formats.SWE_SMITH_XML)
    texts = check_strict(row)
    source = record["messages"][2]["content"]
    assert texts[2] == source[: source.index("<function=bash>")].strip()
    command = source.split("<parameter=command>", 1)[1].split("</parameter>", 1)[0]
    assert texts[3].name == "bash" and json.loads(texts[3].arguments_json) == {"command": command}
    # "OBSERVATION:\n" is SWE-agent's label, stripped as for SERA
    assert texts[4] == record["messages"][3]["content"].removeprefix("OBSERVATION:\n")


def test_swe_smith_multiline_values_lose_the_layout_newlines_and_typed_values_are_json() -> None:
    record = json_rows("swe-smith-xml")[0]
    source = next(m["content"] for m in record["messages"] if "<parameter=old_str>" in m["content"])
    old_str = source.split("<parameter=old_str>", 1)[1].split("</parameter>", 1)[0]
    assert old_str.startswith("\n") and old_str.endswith("\n")
    calls = [t for t in check_strict(converted(record, formats.SWE_SMITH_XML)) if not isinstance(t, str)]
    arguments = [json.loads(call.arguments_json) for call in calls if "old_str" in call.arguments_json]
    assert old_str[1:-1] in [a["old_str"] for a in arguments]
    assert xml_parameter_value("[1, 50]", {"type": "array"}) == [1, 50]
    assert xml_parameter_value("12", {"type": "integer"}) == 12
    assert xml_parameter_value("twelve", {"type": "integer"}) == "twelve"  # not JSON of its type: kept as written
    assert xml_parameter_value("true", {"type": "integer"}) == "true"
    assert xml_parameter_value("[1, 50]", {"type": "string"}) == "[1, 50]"


def test_nebius_fenced_commands_are_bash_calls_and_submit_ends_the_run() -> None:
    record = json_rows("swe-agent-text")[0]
    row = converted(record, formats.SWE_AGENT_TEXT)
    texts = check_strict(row)
    assert texts[0] == record["trajectory"][0]["system_prompt"]
    assert texts[3].name == "bash" and json.loads(texts[3].arguments_json) == {"command": "ls -F"}
    assert texts[4] == record["trajectory"][3]["text"]
    assert row["n_trimmed_submits"] == 0 and all(t.name == "bash" for t in texts if not isinstance(t, str))


def test_a_turn_without_an_action_keeps_its_text_and_the_format_error_reply_is_dropped() -> None:
    record = copy.deepcopy(json_rows("swe-agent-text")[0])
    turn = record["trajectory"][4]
    assert turn["role"] == "ai" and "```" in turn["text"]
    turn["text"] = turn["text"].replace("```", "")
    # SWE-agent does not run a turn it cannot parse: its reply is the format error, not an observation
    record["trajectory"][5]["text"] = "Your output was not formatted correctly."
    row = converted(record, formats.SWE_AGENT_TEXT)
    assert row["n_dropped_format_errors"] == 1 and row["n_folded_texts"] == 1
    assert "Your output was not formatted correctly." not in row["messages"]
    reference = converted(json_rows("swe-agent-text")[0], formats.SWE_AGENT_TEXT)
    assert row["n_tool_calls"] == reference["n_tool_calls"] - 1


def test_openhands_nudges_are_dropped_and_counted() -> None:
    record = json_rows("openhands")[0]
    nudges = sum(1 for m in record["messages"][2:] if m["role"] == "user")
    assert nudges == 2 and all(
        m["content"].startswith("Please continue working on the task") for m in record["messages"][2:] if m["role"] == "user"
    )
    row = converted(record, formats.OPENHANDS)
    assert row["n_dropped_nudges"] == 2 and "Please continue working on the task" not in row["messages"]


def test_openhands_parallel_calls_become_consecutive_steps() -> None:
    record = next(r for r in json_rows("openhands") if any(len(m.get("tool_calls") or []) > 1 for m in r["messages"]))
    parallel = next(m for m in record["messages"] if len(m.get("tool_calls") or []) > 1)
    row = output_row(record, "d", "T1", None, formats.OPENHANDS)
    assert row.get("reject_reason") in (None, reasons.NOT_SUBMITTED)
    split = split_parallel_calls(record["messages"])
    ids = [m["tool_calls"][0]["id"] for m in split if m.get("tool_calls")]
    assert all(call["id"] in ids for call in parallel["tool_calls"])
    for index, message in enumerate(split):
        if message.get("tool_calls") and index + 1 < len(split) and split[index + 1]["role"] == "tool":
            assert split[index + 1]["tool_call_id"] == message["tool_calls"][0]["id"]


def test_openhands_runs_stopped_by_the_iteration_limit_are_not_submitted() -> None:
    row = output_row(json_rows("openhands")[4], "d", "T1", None, formats.OPENHANDS)
    assert row["reject_reason"] == reasons.NOT_SUBMITTED
    assert row["reject_detail"] == "the run ends with a call to 'str_replace_editor' that was never run (stopped by the iteration limit)"


def test_demonstrations_are_left_out() -> None:
    record = traj(SWE_AGENT_DIR / "swe-agent__pydicom__pydicom-1458.traj")
    demo = next(m["content"] for m in record["history"] if m.get("is_demo"))
    row = converted(record, formats.SWE_AGENT_TEXT)
    assert demo not in row["messages"] and json.loads(row["messages"])[1]["content"] == record["history"][2]["content"]


@pytest.mark.parametrize(
    ("source_format", "record"),
    [
        (formats.SWE_AGENT, {"messages": [{"role": "system", "content": "s"}]}),
        (formats.OPENHANDS, {"messages": [{"role": "system", "content": "s"}], "tools": None}),
        (formats.OPENHANDS, {"messages": [], "tools": "not json"}),
        (formats.OPENHANDS, {"messages": [], "tools": [{"function": {}}]}),
        (formats.SWE_SMITH_XML, {"messages": [{"role": "system", "content": "no function list"}, {"role": "user", "content": "u"}]}),
    ],
)
def test_a_source_without_a_readable_tool_list_is_rejected(source_format: str, record: dict) -> None:
    assert output_row(record, "d", "T1", None, source_format)["reject_reason"] == reasons.TOOLS_NOT_DECLARED


@pytest.mark.parametrize("source_format", formats.FORMATS)
@pytest.mark.parametrize("value", [None, "", "{", 5, [], [1, 2]])
def test_turns_that_are_not_a_list_of_objects_are_rejected_for_every_format(source_format: str, value: Any) -> None:
    column = {"swe-agent-text": "trajectory"}.get(source_format, "messages")
    record = {column: value, "tools": [{"type": "function", "function": {"name": "finish"}}]}
    if source_format == formats.SWE_SMITH_XML and isinstance(value, list) and value:
        return  # reads the system prompt first: covered by the tool-list rejects
    row = output_row(record, "d", "T1", None, source_format)
    assert row["reject_reason"] in {
        reasons.MESSAGES_MISSING,
        reasons.MESSAGES_NOT_JSON,
        reasons.MESSAGES_NOT_A_LIST,
        reasons.MESSAGES_EMPTY,
        reasons.TOOLS_NOT_DECLARED,
    }


# ---------------------------------------------------------------------------------------------
# detection (the `convert` command without --format)

DETECTED = {
    "swe-smith-xml": formats.SWE_SMITH_XML,
    "swe-agent-text": formats.SWE_AGENT_TEXT,
    "openhands": formats.OPENHANDS,
}


@pytest.mark.parametrize("folder", list(DETECTED))
def test_every_real_row_is_detected_as_its_format(folder: str) -> None:
    assert {formats.detect_format(record)[0] for record in json_rows(folder)} == {DETECTED[folder]}


def test_traj_files_are_detected_by_how_they_write_actions() -> None:
    for path in (OTHER_FORMATS_DIR / "swe-agent-traj-text").glob("*.traj"):
        assert formats.detect_format(traj(path))[0] == formats.SWE_AGENT_TEXT
    calls = OTHER_FORMATS_DIR / "swe-agent-traj-calls" / "demo-function_calling_replace__marshmallow-code__marshmallow-1867.traj"
    assert formats.detect_format(traj(calls)) == (formats.SWE_AGENT, "tool calls to create, edit, find_file, insert, open")
    assert formats.detect_format(traj(SWE_AGENT_DIR / "swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj"))[0] == formats.SERA
    sera_row = json.loads((SWE_AGENT_DIR.parent / "sera" / "sera-4.6-lite-t2_sample_raw.json").read_text())[0]
    assert formats.detect_format(sera_row)[0] == formats.SERA


# ---------------------------------------------------------------------------------------------
# golden files: one real row per format, read by hand against docs/formats.md

GOLDEN = {
    "swe-smith-xml__conan-io__conan.86f29e13.pr_17531": (lambda: json_rows("swe-smith-xml")[15], formats.SWE_SMITH_XML),
    "swe-agent-text__marshmallow-code__apispec-811_21": (lambda: json_rows("swe-agent-text")[2], formats.SWE_AGENT_TEXT),
    "openhands__Project-MONAI__MONAI-5686_4": (lambda: json_rows("openhands")[1], formats.OPENHANDS),
    "swe-agent__gpt4__swe-agent__test-repo-i1": (
        lambda: traj(OTHER_FORMATS_DIR / "swe-agent-traj-text" / "gpt4__swe-agent__test-repo-i1.traj"),
        formats.SWE_AGENT_TEXT,
    ),
}


@pytest.mark.parametrize("name", list(GOLDEN))
def test_golden_files(name: str) -> None:
    record_of, source_format = GOLDEN[name]
    row = converted(record_of(), source_format)
    assert json.loads(row["messages"]) == json.loads((GOLDEN_DIR / f"{name}.messages.json").read_text())


# ---------------------------------------------------------------------------------------------
# every container: the same rows as JSON Lines, a .json list and Parquet convert alike


@pytest.mark.parametrize("folder", ["openhands", "swe-smith-xml", "swe-agent-text"])
def test_a_format_reads_the_same_rows_from_every_container(tmp_path: Path, folder: str) -> None:
    rows = json_rows(folder)
    source_format = DETECTED[folder]
    (tmp_path / "jsonl").mkdir()
    (tmp_path / "jsonl" / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tmp_path / "json").mkdir()
    (tmp_path / "json" / "rows.json").write_text(json.dumps(rows))
    (tmp_path / "parquet").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "parquet" / "rows.parquet")  # unifies keys, fills nulls

    def built(container: str) -> list[dict]:
        files = [
            {
                "source_dataset": "d",
                "source_file": source.source_file,
                "file_path": source.path,
                "file_format": source.file_format,
                "dataset_order": 1,
                "teacher": None,
                "scale": None,
                "rollout": None,
                "source_format": source_format,
                "file_bytes": source.file_bytes,
            }
            for source in list_source_files(str(tmp_path / container), "d", "traj")
        ]
        manifest = build_parts(files, str(tmp_path / f"parts-{container}"), workers=1)
        return read_parts(manifest).select(["source_row", "messages", "tools", "reject_reason"]).to_pylist()

    from_jsonl = built("jsonl")
    assert len(from_jsonl) == len(rows) and any(row["messages"] for row in from_jsonl)
    assert built("json") == from_jsonl
    assert built("parquet") == from_jsonl

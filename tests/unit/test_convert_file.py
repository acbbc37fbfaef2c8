"""`python -m sera_rectify convert FILE` (sera_rectify.convert_file) on every real fixture and on broken input.

The command must show what `dbt build` would make of the file: the same converted `messages` (byte for
byte with --json), or the same reject; a file it cannot read at all is a one-line error and exit 2.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import shutil
import sys
import types
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sera_rectify import convert_file, reasons
from sera_rectify.__main__ import COMMANDS, main
from sera_rectify.rows import output_row
from sera_rectify.sources import SourceFile, traj_record
from sera_testkit.constants import OTHER_FORMATS_DIR
from sera_testkit.constants import SERA_ROWS_FILE as SERA_ROWS
from sera_testkit.constants import SWE_AGENT_DIR as SWE_AGENT

PANDAS_53652 = SWE_AGENT / "swe-smith__pandas-dev__pandas.95280573.pr_53652.traj"
PYDANTIC_8316 = SWE_AGENT / "swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj"
SHORTENED = re.compile(r"… \(\d+ more chars\)")
BLOCK_HEAD = re.compile(r"\n\n\[(?P<index>\d+)\] (?P<role>system|user|reasoning|tool_call|tool_output|answer)\n")

# file, n_messages or None, reject reason or None, a piece of the reject detail
SWE_AGENT_EXPECTED = [
    ("swe-agent__6e44b9__sweagenttestrepo-1c2844.traj", None, reasons.UNKNOWN_TOOL, "message 2 calls unknown tool 'find_file'"),
    ("swe-agent__function_calling_simple.traj", None, reasons.UNKNOWN_TOOL, "message 2 calls unknown tool 'find_file'"),
    ("swe-agent__marshmallow-code__marshmallow-1867.traj", None, reasons.UNKNOWN_TOOL, "message 4 calls unknown tool 'open'"),
    ("swe-agent__pydicom__pydicom-1458.traj", None, reasons.UNEXPECTED_USER_MESSAGE, "message 2 is a user message"),
    ("swe-agent__str_replace_anthropic_demo.yaml", None, reasons.BAD_PREAMBLE, "messages 0 and 1 are ['user', 'assistant']"),
    ("swe-smith__pandas-dev__pandas.95280573.pr_53652.traj", 112, None, None),
    ("swe-smith__pandas-dev__pandas.95280573.pr_53856.traj", 52, None, None),
    ("swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj", 67, None, None),
]
SERA_EXPECTED = [  # instance_id, n_messages, n_tool_calls, trimmed submits, recall
    ("tinydb_10309", 52, 16, 0, 1.0),
    ("ptyprocess_10174", 82, 26, 1, 0.4074074074074074),
    ("cantools_10317", 109, 35, 0, 0.5),
]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Run `python -m sera_rectify ARGS` in-process: (exit code, stdout, stderr).

    __main__ imports every command module up front; a command another developer has not written yet is
    stubbed so that `convert` can be tested on its own.
    """
    for module_name, _ in COMMANDS.values():
        if module_name not in sys.modules and importlib.util.find_spec(module_name) is None:
            stub = types.ModuleType(module_name)
            stub.add_arguments = lambda parser: None
            stub.run = lambda args: 0
            monkeypatch.setitem(sys.modules, module_name, stub)

    def run(*args: object) -> tuple[int, str, str]:
        code = main(["convert", *map(str, args)])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return json.loads(SERA_ROWS.read_bytes())


def blocks_of(out: str) -> list[tuple[int, str, str]]:
    """(index, role, content) of each printed message block "[i] role\ncontent", blocks separated by a
    blank line; a block header is only taken where the next index is expected (content may hold "[")."""
    heads = [m for m in BLOCK_HEAD.finditer(out)]
    accepted = []
    for match in heads:
        if int(match["index"]) == len(accepted):
            accepted.append(match)
    ends = [m.start() for m in accepted[1:]] + [len(out) - 1]  # the output ends with one newline
    return [(int(m["index"]), m["role"], out[m.end() : end]) for m, end in zip(accepted, ends, strict=True)]


def header_of(out: str) -> dict[str, str]:
    header = out.split("\n\n", 1)[0]
    return dict(line.split(": ", 1) for line in header.splitlines())


def pipeline_row(path: Path, dataset: str) -> dict:
    """What `dbt build` makes of a trajectory file in a traj_dirs folder named `dataset`."""
    record = traj_record(
        path.read_bytes(), SourceFile(dataset, f"{dataset}/{path.name}", str(path), "traj_yaml" if path.suffix == ".yaml" else "traj")
    )
    return output_row(record, dataset, "T1")


# ---------------------------------------------------------------------------------------------
# Every fixture


@pytest.mark.parametrize("name, n_messages, reason, detail", SWE_AGENT_EXPECTED)
def test_convert_every_swe_agent_fixture(cli, name: str, n_messages: int | None, reason: str | None, detail: str | None) -> None:
    """As a traj_dirs folder of the default format reads them (--format sera; docs/formats.md for theirs)."""
    code, out, err = cli(SWE_AGENT / name, "--format", "sera")
    assert code == 0 and err == ""
    header = header_of(out)
    assert header["file"] == str(SWE_AGENT / name)
    assert header["dataset"] == "swe-agent (T1)"  # default: the parent folder name
    assert header["instance_id"] == name.rsplit(".", 1)[0]
    if reason is not None:
        assert header["rejected"] == reason
        assert detail in header["detail"]
        assert "[0] system" not in out
        return
    assert int(header["messages"]) == n_messages == len(blocks_of(out))
    assert "line_level_recall" not in header  # T1
    blocks = blocks_of(out)
    assert [role for _, role, _ in blocks[:3]] == ["system", "user", "reasoning"] and blocks[-1][1] == "answer"
    submission = json.loads((SWE_AGENT / name).read_bytes())["info"]["submission"]
    assert blocks[-1][2].startswith("<answer>" + submission[:100])


@pytest.mark.parametrize("row_index", range(3))
def test_convert_every_sera_row(cli, rows: list[dict], row_index: int) -> None:
    instance_id, n_messages, n_tool_calls, trimmed, recall = SERA_EXPECTED[row_index]
    code, out, err = cli(SERA_ROWS, "--row", row_index)
    assert code == 0 and err == "format: sera (detected: `messages` is a JSON string (SERA's published layout); choose with --format)\n"
    header = header_of(out)
    assert header["file"] == f"{SERA_ROWS}, row {row_index}"
    assert header["dataset"] == "Sera-4.6-Lite-T2 (T2)"
    assert header["instance_id"] == instance_id
    assert (int(header["messages"]), int(header["tool calls"]), int(header["trimmed submits"])) == (n_messages, n_tool_calls, trimmed)
    assert header["filled reasonings"] == "0"
    assert float(header["line_level_recall"]) == recall
    blocks = blocks_of(out)
    assert [index for index, _, _ in blocks] == list(range(n_messages))
    assert blocks[-1][1] == "answer"
    assert blocks[-1][2].startswith("<answer>" + rows[row_index]["rollout_patch"][:200])


def test_tinydb_header_and_blocks(cli, rows: list[dict]) -> None:
    code, out, _ = cli(SERA_ROWS)  # --row defaults to 0
    assert code == 0
    assert out.startswith(
        f"file: {SERA_ROWS}, row 0\ndataset: Sera-4.6-Lite-T2 (T2)\nformat: sera\ninstance_id: tinydb_10309\nmessages: 52\ntool calls: 16\n"
    )
    blocks = blocks_of(out)
    assert len(blocks) == 52
    assert blocks[0][:2] == (0, "system") and blocks[0][2].startswith("## Tool-use protocol")
    assert blocks[3] == (
        3,
        "tool_call",
        '<tool_call>{"name": "str_replace_editor", "arguments": {"command": "view", "path": "/testbed"}}</tool_call>',
    )
    assert blocks[50] == (50, "reasoning", "<think>Now let me submit again.</think>")
    patch = rows[0]["rollout_patch"]
    assert blocks[51][:2] == (51, "answer")
    assert blocks[51][2].startswith("<answer>diff --git a/tinydb/storages.py b/tinydb/storages.py\n")
    assert blocks[51][2] == ("<answer>" + patch + "</answer>")[:400] + f"… ({len(patch) + 17 - 400} more chars)"


# ---------------------------------------------------------------------------------------------
# --json, --full, --dataset


@pytest.mark.parametrize("row_index", range(3))
def test_json_is_exactly_the_pipeline_messages_for_rows(cli, rows: list[dict], row_index: int) -> None:
    code, out, _ = cli(SERA_ROWS, "--row", row_index, "--json")
    assert code == 0
    assert out == output_row(rows[row_index], "Sera-4.6-Lite-T2", "T2")["messages"] + "\n"


@pytest.mark.parametrize("path", [PANDAS_53652, PYDANTIC_8316])
def test_json_is_exactly_the_pipeline_messages_for_traj(cli, path: Path) -> None:
    code, out, _ = cli(path, "--json")
    assert code == 0
    assert out == pipeline_row(path, "swe-agent")["messages"] + "\n"


def test_dataset_option_feeds_the_template_hash_like_a_traj_dirs_name(cli) -> None:
    # dbt names the dataset after the traj_dirs key: the same --dataset gives the same filled texts
    _, default, _ = cli(PYDANTIC_8316, "--json")
    _, named, _ = cli(PYDANTIC_8316, "--json", "--dataset", "swe_agent_fixtures")
    assert named == pipeline_row(PYDANTIC_8316, "swe_agent_fixtures")["messages"] + "\n"
    assert json.loads(default)[65] != json.loads(named)[65]  # the filled answer reasoning moved to another template


def test_dataset_option_t1_has_no_recall(cli) -> None:
    _, out, _ = cli(SERA_ROWS, "--dataset", "Sera-4.6-Lite-T1")
    header = header_of(out)
    assert header["dataset"] == "Sera-4.6-Lite-T1 (T1)"
    assert "line_level_recall" not in header


def test_full_prints_every_message_whole(cli, rows: list[dict]) -> None:
    _, short, _ = cli(SERA_ROWS, "--row", 1)
    _, full, _ = cli(SERA_ROWS, "--row", 1, "--full")
    expected = json.loads(output_row(rows[1], "Sera-4.6-Lite-T2", "T2")["messages"])
    assert [(role, content) for _, role, content in blocks_of(full)] == [(m["role"], m["content"]) for m in expected]
    assert not SHORTENED.search(full)  # no shortening marker at all
    user = expected[1]["content"]
    assert len(user) > 400
    assert blocks_of(short)[1][2] == user[:400] + f"… ({len(user) - 400} more chars)"
    assert len(short) < len(full) / 3
    # messages up to 400 characters are never cut
    for (_, _, cut), message in zip(blocks_of(short), expected, strict=True):
        assert cut == message["content"] if len(message["content"]) <= 400 else cut.startswith(message["content"][:400])


def test_shorten() -> None:
    assert convert_file.shorten("abc", 3) == "abc"
    assert convert_file.shorten("abcdef", 3) == "abc… (3 more chars)"
    assert convert_file.shorten("", 0) == ""


# ---------------------------------------------------------------------------------------------
# Rejects are answers


def test_reject_prints_reason_and_detail(cli) -> None:
    code, out, err = cli(SWE_AGENT / "swe-agent__pydicom__pydicom-1458.traj", "--format", "sera")
    assert (code, err) == (0, "")
    assert out.endswith("rejected: unexpected_user_message\ndetail: message 2 is a user message after the preamble\n")


def test_reject_as_json(cli) -> None:
    code, out, _ = cli(SWE_AGENT / "swe-agent__marshmallow-code__marshmallow-1867.traj", "--json", "--format", "sera")
    assert code == 0
    assert json.loads(out) == {"reason": "unknown_tool", "detail": "message 4 calls unknown tool 'open'"}


# ---------------------------------------------------------------------------------------------
# Other input forms


def test_jsonl_row_counts_non_blank_lines_and_a_bad_line_is_a_reject(cli, tmp_path: Path, rows: list[dict]) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b"\n" + json.dumps(rows[0]).encode() + b"\n\n   \n" + json.dumps(rows[2]).encode() + b"\n{truncated\n[1, 2]\n")
    _, out, _ = cli(path, "--row", 1)
    assert header_of(out)["instance_id"] == "cantools_10317"
    assert header_of(out)["file"] == f"{path}, row 1"
    code, out, _ = cli(path, "--row", 2)
    assert code == 0 and header_of(out)["rejected"] == reasons.LINE_NOT_JSON
    assert header_of(cli(path, "--row", 3)[1])["rejected"] == reasons.LINE_NOT_AN_OBJECT
    code, out, err = cli(path, "--row", 4)
    assert (code, out) == (2, "")
    assert err == f"error: {path}: has 4 rows (non-blank lines); use --row 0..3.\n"


def test_compressed_jsonl(cli, tmp_path: Path, rows: list[dict]) -> None:
    path = tmp_path / "rows.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(rows[1]).encode() + b"\n"))
    _, out, _ = cli(path, "--json")
    assert out == output_row(rows[1], "Sera-4.6-Lite-T2", "T2")["messages"] + "\n"


def test_json_file_with_one_row_object(cli, tmp_path: Path, rows: list[dict]) -> None:
    path = tmp_path / "row.json"
    path.write_text(json.dumps(rows[2]), encoding="utf-8")
    code, out, _ = cli(path)
    assert code == 0 and header_of(out)["file"] == str(path) and header_of(out)["messages"] == "109"
    code, _, err = cli(path, "--row", 1)
    assert code == 2 and "one row object" in err


def test_json_file_holding_a_trajectory_is_read_as_one(cli, tmp_path: Path) -> None:
    path = tmp_path / "run" / "pr_8316.json"
    path.parent.mkdir()
    shutil.copyfile(PYDANTIC_8316, path)
    _, out, _ = cli(path)
    assert header_of(out)["dataset"] == "run (T1)" and header_of(out)["instance_id"] == "pr_8316"
    assert header_of(out)["messages"] == "67"


def test_parquet_row(cli, tmp_path: Path, rows: list[dict]) -> None:
    path = tmp_path / "Sera-4.6-Lite-T2" / "part-0.parquet"
    path.parent.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), path)
    _, out, _ = cli(path, "--row", 2, "--json")
    assert out == output_row(rows[2], "Sera-4.6-Lite-T2", "T2")["messages"] + "\n"


def test_default_dataset_is_the_sera_folder_the_file_is_in(cli, tmp_path: Path, rows: list[dict]) -> None:
    path = tmp_path / "sources" / "Sera-4.5A-Full-T1" / "part" / "rows.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(rows[0]) + "\n", encoding="utf-8")
    header = header_of(cli(path)[1])
    assert header["dataset"] == "Sera-4.5A-Full-T1 (T1)"
    assert "line_level_recall" not in header


# ---------------------------------------------------------------------------------------------
# Files that cannot be read at all: exit 2, one line on stderr, no traceback


def test_missing_file(cli, tmp_path: Path) -> None:
    code, out, err = cli(tmp_path / "nope.traj")
    assert (code, out) == (2, "")
    assert err == f"error: {tmp_path / 'nope.traj'}: no such file (or not a regular file). Check the path.\n"


@pytest.mark.parametrize(
    "name, data, expected",
    [
        ("broken.traj", b'{"history": [', "not valid JSON"),
        ("broken.traj", b"\xff\xfe{}", "invalid UTF-8"),
        ("list.traj", b"[1, 2]", "not an object"),
        ("broken.yaml", b"history: [\n", "not a YAML document"),
        ("broken.json", b"{", "not valid JSON"),
        ("empty.json", b"[]", "empty list"),
        ("scalar.json", b"3", "not an object"),
        ("rows.jsonl", b"\n\n", "no non-blank line"),
        ("rows.jsonl.gz", b"not gzip", "cannot read"),
        ("notes.txt", b"hello", "unknown file type"),
    ],
)
def test_unreadable_file_is_a_one_line_error(cli, tmp_path: Path, name: str, data: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    code, out, err = cli(path)
    assert (code, out) == (2, "")
    assert err.startswith("error: ") and str(path) in err and expected in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_row_out_of_range_and_row_on_a_trajectory(cli) -> None:
    code, _, err = cli(SERA_ROWS, "--row", 3)
    assert code == 2 and err == f"error: {SERA_ROWS}: holds 3 rows; use --row 0..2.\n"
    code, _, err = cli(PANDAS_53652, "--row", 1)
    assert code == 2 and "drop --row" in err


def test_negative_row_is_a_usage_error(cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(SERA_ROWS, "--row", -1)
    assert exit_info.value.code == 2


def test_deeply_nested_file_is_a_one_line_error(cli, tmp_path: Path) -> None:
    path = tmp_path / "deep.traj"
    path.write_text('{"history": ' + "[" * 5000 + "]" * 5000 + "}", encoding="utf-8")
    code, out, err = cli(path)
    assert (code, out) == (2, "")
    assert err.startswith(f"error: {path}: ") and "nested too deeply" in err and err.count("\n") == 1


OTHER_FORMATS = [
    (OTHER_FORMATS_DIR / "swe-smith-xml" / "swe-smith-xml_rows.json", 2, "swe-smith-xml"),
    (OTHER_FORMATS_DIR / "swe-agent-text" / "swe-agent-text_rows.json", 1, "swe-agent-text"),
    (OTHER_FORMATS_DIR / "openhands" / "openhands_rows.json", 1, "openhands"),
]


@pytest.mark.parametrize(("path", "row", "source_format"), OTHER_FORMATS, ids=[f for _, _, f in OTHER_FORMATS])
def test_other_formats_are_detected_on_stderr_and_json_stays_the_messages(cli, path: Path, row: int, source_format: str) -> None:
    code, out, err = cli(path, "--row", row, "--json")
    assert code == 0
    assert err.startswith(f"format: {source_format} (detected: ")
    record = json.loads(path.read_text())[row]
    assert out == output_row(record, "Sera-4.6-Lite-T2", "T2", None, source_format)["messages"] + "\n"
    code, given, err = cli(path, "--row", row, "--json", "--format", source_format)
    assert (code, given, err) == (0, out, "")


def test_the_format_option_reads_the_row_with_that_format(cli) -> None:
    path = OTHER_FORMATS_DIR / "openhands" / "openhands_rows.json"
    code, out, _ = cli(path, "--row", 1, "--format", "swe-agent", "--json")
    assert code == 0 and json.loads(out)["reason"] == "unexpected_user_message"  # the nudges only openhands drops
    code, out, _ = cli(path, "--row", 1)
    header = header_of(out)
    assert (header["format"], header["resolved"], header["dropped nudges"]) == ("openhands", "True", "2")


def test_an_unknown_format_is_a_usage_error(cli) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli(OTHER_FORMATS_DIR / "openhands" / "openhands_rows.json", "--format", "open-hands")
    assert exit_info.value.code == 2


def test_a_parquet_file_of_another_format(cli, tmp_path: Path) -> None:
    """Parquet rows of OpenHands (nested columns, keys unified with nulls) convert as from JSON."""
    source = OTHER_FORMATS_DIR / "openhands" / "openhands_rows.json"
    path = tmp_path / "rows.parquet"
    pq.write_table(pa.Table.from_pylist(json.loads(source.read_text())), path)
    code, from_parquet, err = cli(path, "--row", 1, "--json")
    assert code == 0 and err.startswith("format: openhands (detected: ")
    assert from_parquet == cli(source, "--row", 1, "--json", "--format", "openhands")[1]

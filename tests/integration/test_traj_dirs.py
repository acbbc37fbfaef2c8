"""`dbt build` with a folder of real SWE-agent trajectories as a source (dbt var traj_dirs), end to end.

The folder is tests/fixtures/swe-agent (eight real files, see its ATTRIBUTION.md): three SWE-smith
trajectories (SWE-agent 1.x, bash / str_replace_editor / submit) convert; five older ones reject, each for
the reason spec/conversion.md gives, read off the files:

- swe-agent__6e44b9__sweagenttestrepo-1c2844.traj: message 2 calls `find_file` (older tool bundle) -> §2
  unknown_tool. It also never submits (§3 not_submitted), but §2's walk comes first.
- swe-agent__function_calling_simple.traj: only a `history` key; message 2 calls `find_file` -> unknown_tool.
- swe-agent__marshmallow-code__marshmallow-1867.traj: message 2 is a valid bash step, message 4 calls `open`
  -> unknown_tool (its reused tool-call ids do not matter: pairing is by position).
- swe-agent__pydicom__pydicom-1458.traj: pre-1.0, no tool calls; message 2 is a second user message ->
  §1 unexpected_user_message, before any §2 / §3 problem.
- swe-agent__str_replace_anthropic_demo.yaml: a YAML demonstration whose history starts with a user
  message (no system message) -> §1 bad_preamble.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from dbt_runs import CHECK_OUTPUT, dbt_build

from sera_rectify.convert_file import load, output_row_of
from sera_testkit.constants import REPO

pytestmark = pytest.mark.integration

DATASET = "swe_agent_fixtures"
FOLDER = "tests/fixtures/swe-agent"
CONVERTED = [
    # source file, n_messages, n_tool_calls, n_filled_reasoning
    ("swe-smith__pandas-dev__pandas.95280573.pr_53652.traj", 112, 36, 2),
    ("swe-smith__pandas-dev__pandas.95280573.pr_53856.traj", 52, 16, 0),
    ("swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj", 67, 21, 1),
]
REJECTED = [
    ("swe-agent__6e44b9__sweagenttestrepo-1c2844.traj", "unknown_tool", "message 2 calls unknown tool 'find_file'"),
    ("swe-agent__function_calling_simple.traj", "unknown_tool", "message 2 calls unknown tool 'find_file'"),
    ("swe-agent__marshmallow-code__marshmallow-1867.traj", "unknown_tool", "message 4 calls unknown tool 'open'"),
    ("swe-agent__pydicom__pydicom-1458.traj", "unexpected_user_message", "message 2 is a user message after the preamble"),
    (
        "swe-agent__str_replace_anthropic_demo.yaml",
        "bad_preamble",
        "messages 0 and 1 are ['user', 'assistant'], expected ['system', 'user']",
    ),
]


@pytest.fixture(scope="module")
def traj_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("traj_build")
    variables = {
        "datasets": [],
        "traj_dirs": {DATASET: {"path": FOLDER, "teacher": "GLM-4.6", "scale": "lite", "rollout": "T1"}},
        "export_path": str(workdir / "x.parquet"),
    }
    result = dbt_build(workdir, vars=variables)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return workdir


def query(workdir: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchall()


def test_three_rows_out(traj_build: Path) -> None:
    rows = query(
        traj_build,
        "select source_file, source_row, instance_id, n_messages, n_tool_calls, n_filled_reasoning, teacher, scale, rollout, "
        "line_level_recall, func_name, func_path from sera_rectified order by source_file",
    )
    assert rows == [
        (f"{DATASET}/{name}", 0, name.removesuffix(".traj"), n_messages, n_tool_calls, n_filled, "GLM-4.6", "lite", "T1", None, None, None)
        for name, n_messages, n_tool_calls, n_filled in CONVERTED
    ]


def test_five_rejects_with_their_reasons(traj_build: Path) -> None:
    rows = query(traj_build, "select source_file, source_row, instance_id, reason, detail from sera_rectified_rejects order by source_file")
    assert rows == [(f"{DATASET}/{name}", 0, name.rsplit(".", 1)[0], reason, detail) for name, reason, detail in REJECTED]


def test_every_file_is_out_or_rejected(traj_build: Path) -> None:
    assert query(traj_build, "select source_dataset, rows_read, rows_out, rows_rejected from source_reconciliation") == [(DATASET, 8, 3, 5)]


def test_messages_are_what_the_convert_command_prints(traj_build: Path) -> None:
    """`python -m sera_rectify convert FILE --dataset swe_agent_fixtures --json` shows exactly the built row."""
    built = dict(query(traj_build, "select source_file, messages from sera_rectified"))
    for name, *_ in CONVERTED:
        result = output_row_of(load(REPO / FOLDER / name, row=None, dataset=DATASET))
        assert built[f"{DATASET}/{name}"] == result["messages"], name
    for name, reason, _ in REJECTED:
        assert output_row_of(load(REPO / FOLDER / name, row=None, dataset=DATASET))["reject_reason"] == reason


def test_export_holds_the_three_rows_and_passes_the_contract_validator(traj_build: Path) -> None:
    export = traj_build / "x.parquet"
    table = pq.read_table(export)
    assert table.num_rows == 3
    assert table.column("instance_id").to_pylist() == [name.removesuffix(".traj") for name, *_ in CONVERTED]
    for messages in table.column("messages").to_pylist():
        assert json.loads(messages)[-1]["role"] == "answer"
    if not CHECK_OUTPUT.exists():
        pytest.skip(f"{CHECK_OUTPUT} is not beside the repo")
    result = subprocess.run([sys.executable, str(CHECK_OUTPUT), str(export)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert result.stdout.strip().endswith("3 rows checked, 0 violations")

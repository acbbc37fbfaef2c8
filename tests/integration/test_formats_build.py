"""`dbt build` of the sample plus one dataset of each source format (docs/formats.md), end to end.

The traj_dirs folders are tests/fixtures/other-formats/ (real published rows, see its ATTRIBUTION.md):
every data test passes, each dataset reconciles on its own, each row's calls name its own source's
tools, the row's model names its teacher, and the SFT export carries each row's own tools.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dbt_runs import dbt_build, query

pytestmark = pytest.mark.integration

FOLDER = "tests/fixtures/other-formats"
TRAJ_DIRS = {
    "swe_smith": {
        "path": f"{FOLDER}/swe-smith-xml",
        "format": "swe-smith-xml",
        "license": "MIT",
        "attribution": "SWE-smith (John Yang et al.)",
    },
    "nebius": {"path": f"{FOLDER}/swe-agent-text", "format": "swe-agent-text", "license": "CC-BY-4.0", "attribution": "Nebius"},
    "swe_gym": {"path": f"{FOLDER}/openhands", "format": "openhands", "teacher": "gpt-4o", "license": "MIT"},
    "swe_agent_calls": {"path": f"{FOLDER}/swe-agent-traj-calls", "format": "swe-agent", "rollout": "T1"},
    "swe_agent_text": {"path": f"{FOLDER}/swe-agent-traj-text", "format": "swe-agent-text"},
}
# dataset: (rows read, converted, rejected)
RECONCILED = {
    "swe_smith": (17, 17, 0),
    "nebius": (5, 5, 0),
    "swe_gym": (13, 6, 7),
    "swe_agent_calls": (1, 1, 0),
    "swe_agent_text": (3, 3, 0),
}


@pytest.fixture(scope="module")
def mixed_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("mixed_build")
    variables = {"traj_dirs": TRAJ_DIRS, "export_path": str(workdir / "mixed.parquet")}
    result = dbt_build(workdir, vars=variables)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return workdir


def test_every_dataset_reconciles(mixed_build: Path) -> None:
    rows = query(mixed_build, "select source_dataset, rows_read, rows_out, rows_rejected from source_reconciliation")
    by_dataset = {dataset: counts for dataset, *counts in rows}
    assert {dataset: tuple(by_dataset[dataset]) for dataset in RECONCILED} == RECONCILED
    assert all(read == out + rejected for read, out, rejected in by_dataset.values())
    assert {"Sera-4.5A-Full-T1", "Sera-4.6-Lite-T2"} <= set(by_dataset)


def test_the_openhands_rejects_are_runs_stopped_by_the_iteration_limit(mixed_build: Path) -> None:
    rows = query(mixed_build, "select reason, count(*) from sera_rectified_rejects where source_dataset = 'swe_gym' group by reason")
    assert rows == [("not_submitted", 7)]


def test_each_row_names_its_own_sources_tools(mixed_build: Path) -> None:
    rows = query(
        mixed_build,
        "select source_format, count(distinct tools), list(distinct source_dataset order by source_dataset) "
        "from sera_rectified group by source_format order by source_format",
    )
    assert [(fmt, datasets) for fmt, _, datasets in rows] == [
        ("openhands", ["swe_gym"]),
        ("sera", ["Sera-4.5A-Full-T1", "Sera-4.5A-Full-T2", "Sera-4.6-Lite-T1", "Sera-4.6-Lite-T2"]),
        ("swe-agent", ["swe_agent_calls"]),
        ("swe-agent-text", ["nebius", "swe_agent_text"]),
        ("swe-smith-xml", ["swe_smith"]),
    ]
    (openhands_tools,) = query(mixed_build, "select distinct tools from sera_rectified where source_format = 'openhands'")[0]
    assert [tool["function"]["name"] for tool in json.loads(openhands_tools)] == ["execute_bash", "finish", "str_replace_editor"]


def test_teacher_comes_from_the_row_else_from_the_declaration(mixed_build: Path) -> None:
    rows = dict(
        query(
            mixed_build,
            "select source_dataset, list(distinct coalesce(teacher, '-') order by coalesce(teacher, '-')) from sera_rectified "
            "where source_format <> 'sera' group by source_dataset",
        )
    )
    assert rows["swe_smith"] == ["-", "claude-3-5-sonnet-20241022", "claude-3-7-sonnet-20250219"]
    assert rows["nebius"] == ["swe-agent-llama-405b", "swe-agent-llama-70b"]
    assert rows["swe_gym"] == ["gpt-4o"]
    assert rows["swe_agent_calls"] == ["gpt-4o"]
    resolved = query(mixed_build, "select source_dataset, bool_and(resolved) from sera_rectified where resolved is not null group by all")
    assert dict(resolved) == {"swe_smith": True, "nebius": True, "swe_gym": True}


def test_the_counters_of_the_adapters_reach_the_table(mixed_build: Path) -> None:
    (nudges,) = query(mixed_build, "select sum(n_dropped_nudges) from sera_rectified where source_dataset = 'swe_gym'")[0]
    assert nudges > 0
    (others,) = query(mixed_build, "select sum(n_dropped_nudges) from sera_rectified where source_dataset <> 'swe_gym'")[0]
    assert others == 0


def test_the_sft_export_carries_each_rows_tools(mixed_build: Path) -> None:
    table = pq.read_table(mixed_build / "mixed_sft.parquet", columns=["tools", "source_dataset"]).to_pylist()
    tools = {row["source_dataset"]: {tool["function"]["name"] for tool in json.loads(row["tools"])} for row in table}
    assert tools["swe_gym"] == {"execute_bash", "finish", "str_replace_editor"}
    assert tools["Sera-4.6-Lite-T2"] == {"bash", "str_replace_editor", "submit"}
    assert {"open", "goto", "edit"} <= tools["swe_agent_calls"]


def test_the_card_names_every_source_with_its_license(mixed_build: Path) -> None:
    card = (mixed_build / "README.md").read_text()
    for dataset in TRAJ_DIRS:
        assert dataset in card
    assert "CC-BY-4.0" in card and "Nebius" in card and "ODC-By" in card


def test_an_unknown_format_stops_the_build_before_any_file_is_read(tmp_path: Path) -> None:
    export = tmp_path / "output" / "sera_rectified.parquet"
    export.parent.mkdir(parents=True)
    export.write_bytes(b"the previous good export")
    variables = {"datasets": [], "traj_dirs": {"gym": {"path": f"{FOLDER}/openhands", "format": "open-hands"}}}
    result = dbt_build(tmp_path, vars=variables)
    assert result.returncode == 1
    summary = result.stdout.split("Completed with 1 error", 1)[-1]  # dbt's error summary, after the model's own log
    assert "traj_dirs entry gym has format 'open-hands', which is not a known source format. Valid formats: sera, swe-agent, " in summary
    assert not (tmp_path / "sera_converted").exists() and export.read_bytes() == b"the previous good export"

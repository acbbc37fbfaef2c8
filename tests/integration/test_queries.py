"""The documented ad-hoc queries (queries/*.sql, scripts/query.py) and `dbt docs generate`, against a database
built once from the embedded sample.

Each query must run read-only and give results consistent with the tables it summarises.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from sera_rectify.reasons import REJECT_REASONS
from sera_rectify.render import sera_tools
from sera_testkit.constants import EXPORT_COLUMNS, REPO

pytestmark = pytest.mark.integration

QUERIES = REPO / "queries"
QUERY_SCRIPT = REPO / "scripts" / "query.py"
EXPECTED_QUERIES = {
    "rows_by_teacher_rollout",
    "recall_histogram_t2",
    "sera32b_subset",
    "longest_trajectories",
    "tool_call_mix",
    "rejects_by_reason",
    "one_trajectory",
}


@pytest.fixture
def built(sample_build: Path) -> Path:
    """The shared build of the sample (tests/integration/conftest.py); its workdir holds sera.duckdb."""
    return sample_build


def run_query(workdir: Path, name: str, **variables: str) -> list[dict]:
    """queries/NAME.sql on a read-only connection, as scripts/query.py runs it; rows as dicts."""
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        for key, value in variables.items():
            connection.execute(f"set variable {key} = ?", [value])
        relation = connection.sql((QUERIES / f"{name}.sql").read_text(encoding="utf-8"))
        columns = relation.columns
        return [dict(zip(columns, row, strict=True)) for row in relation.fetchall()]


def scalar(workdir: Path, sql: str):
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        return connection.execute(sql).fetchone()[0]


def test_one_file_per_question_each_saying_what_it_answers() -> None:
    assert {path.stem for path in QUERIES.glob("*.sql")} == EXPECTED_QUERIES
    for path in QUERIES.glob("*.sql"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("-- ") and len(first) > 20, path.name


@pytest.mark.parametrize("name", sorted(EXPECTED_QUERIES))
def test_every_query_runs_read_only_and_returns_rows(built: Path, name: str) -> None:
    assert run_query(built, name)


def test_rows_by_teacher_rollout_sums_to_the_table(built: Path) -> None:
    rows = run_query(built, "rows_by_teacher_rollout")
    assert sum(row["n_rows"] for row in rows) == scalar(built, "select count(*) from sera_rectified")
    assert {(row["teacher"], row["scale"], row["rollout"]) for row in rows} == {
        ("GLM-4.5-Air", "full", "T1"),
        ("GLM-4.5-Air", "full", "T2"),
        ("GLM-4.6", "lite", "T1"),
        ("GLM-4.6", "lite", "T2"),
    }
    assert sum(row["pct_of_rows"] for row in rows) == pytest.approx(100, abs=0.05)
    assert all(row["n_with_recall"] == 0 for row in rows if row["rollout"] == "T1")


def test_recall_histogram_counts_t2_rows_only(built: Path) -> None:
    rows = run_query(built, "recall_histogram_t2")
    t2_rows = scalar(built, "select count(*) from sera_rectified where rollout = 'T2'")
    assert 0 < t2_rows < scalar(built, "select count(*) from sera_rectified")
    assert sum(row["n_rows"] for row in rows) == t2_rows
    assert all(row["n_GLM-4.5-Air"] + row["n_GLM-4.6"] == row["n_rows"] for row in rows)
    labels = [row["recall_bin"] for row in rows]
    allowed = [f"[{k / 10:.1f}, {(k + 1) / 10:.1f})" for k in range(10)] + ["1.0", "null"]
    assert labels == [label for label in allowed if label in labels]  # known bins, in order
    by_label = {row["recall_bin"]: row["n_rows"] for row in rows}
    assert by_label.get("1.0", 0) == scalar(built, "select count(*) from sera_rectified where rollout = 'T2' and line_level_recall = 1")
    assert by_label.get("null", 0) == scalar(built, "select count(*) from sera_rectified where rollout = 'T2' and line_level_recall is null")


def test_sera32b_subset_is_glm46_t2_top_recall(built: Path) -> None:
    sql = (QUERIES / "sera32b_subset.sql").read_text(encoding="utf-8")
    assert "limit 25000" in sql.lower() and "SERA-32B" in sql and "25,000" in sql
    rows = run_query(built, "sera32b_subset")
    assert tuple(rows[0]) == EXPORT_COLUMNS
    candidates = scalar(built, "select count(*) from sera_rectified where teacher = 'GLM-4.6' and rollout = 'T2' and line_level_recall is not null")
    assert len(rows) == min(25000, candidates) > 0
    assert {(row["teacher"], row["scale"], row["rollout"]) for row in rows} == {("GLM-4.6", "lite", "T2")}
    recalls = [row["line_level_recall"] for row in rows]
    assert None not in recalls
    assert recalls == sorted(recalls, reverse=True)
    assert recalls[0] == scalar(built, "select max(line_level_recall) from sera_rectified where teacher = 'GLM-4.6' and rollout = 'T2'")


def test_longest_trajectories_come_first(built: Path) -> None:
    rows = run_query(built, "longest_trajectories")
    assert 0 < len(rows) <= 20
    lengths = [row["n_messages"] for row in rows]
    assert lengths == sorted(lengths, reverse=True)
    assert lengths[0] == scalar(built, "select max(n_messages) from sera_rectified")
    assert all(row["n_messages"] == 3 * row["n_tool_calls"] + 4 for row in rows)


def test_tool_call_mix_counts_every_tool_call_message(built: Path) -> None:
    rows = run_query(built, "tool_call_mix")
    assert sum(row["n_calls"] for row in rows) == scalar(built, "select sum(n_tool_calls) from sera_rectified")
    tools = {row["tool"] for row in rows}
    assert tools <= sera_tools().names == {"bash", "str_replace_editor", "submit"}
    assert {"bash", "str_replace_editor"} <= tools
    assert all((row["editor_command"] is not None) == (row["tool"] == "str_replace_editor") for row in rows)
    assert {row["editor_command"] for row in rows if row["tool"] == "str_replace_editor"} <= {"view", "create", "str_replace", "insert", "undo_edit"}
    # a submit counted here is one the agent cleaned up after (the final submit is the answer, not a tool_call),
    # so no row's last tool_call is a submit
    last_call_is_submit = """
        select count(*) from (
            select list_filter(from_json(messages, '[{"role": "VARCHAR", "content": "VARCHAR"}]'),
                               lambda m: m.role = 'tool_call') as calls
            from sera_rectified
        )
        where len(calls) > 0 and substr(calls[-1].content, 12, length(calls[-1].content) - 23)::json ->> '$.name' = 'submit'
    """
    assert scalar(built, last_call_is_submit) == 0


def test_rejects_by_reason_sums_to_the_rejects(built: Path) -> None:
    rows = run_query(built, "rejects_by_reason")
    assert sum(row["n_rejects"] for row in rows) == scalar(built, "select count(*) from sera_rectified_rejects") > 0
    assert {row["reason"] for row in rows} <= set(REJECT_REASONS)
    assert all(row["meaning"] and row["first_detail"] and row["pct_of_rows_read"] > 0 for row in rows)


def test_one_trajectory_lists_its_messages_in_order(built: Path) -> None:
    rows = run_query(built, "one_trajectory")  # default: tinydb_10309, a real row (52 messages)
    assert [row["position"] for row in rows] == list(range(52))
    roles = [row["role"] for row in rows]
    assert roles[:3] == ["system", "user", "reasoning"] and roles[-1] == "answer"
    other = run_query(built, "one_trajectory", instance_id="cantools_10317", source_dataset="Sera-4.6-Lite-T2")
    assert len(other) == 109 and {row["source_dataset"] for row in other} == {"Sera-4.6-Lite-T2"}
    assert run_query(built, "one_trajectory", instance_id="no_such_id") == []


def script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(QUERY_SCRIPT), *args], capture_output=True, text=True, timeout=120, cwd=REPO)


def test_query_script_lists_runs_and_writes(built: Path, tmp_path: Path) -> None:
    listing = script("--list")
    assert listing.returncode == 0, listing.stderr
    listed = dict(line.split(None, 1) for line in listing.stdout.splitlines())
    assert set(listed) == EXPECTED_QUERIES
    for name, what in listed.items():
        assert what == (QUERIES / f"{name}.sql").read_text(encoding="utf-8").splitlines()[0][3:].strip()

    db = str(built / "sera.duckdb")
    shown = script("rows_by_teacher_rollout", "--db", db)
    assert shown.returncode == 0, shown.stderr
    assert "GLM-4.5-Air" in shown.stdout and "n_rows" in shown.stdout

    out = tmp_path / "cantools.csv"
    written = script("one_trajectory", "--db", db, "--set", "instance_id=cantools_10317", "--out", str(out))
    assert written.returncode == 0, written.stderr
    assert len(out.read_text(encoding="utf-8").splitlines()) == 1 + 109

    unknown = script("no_such_query", "--db", db)
    assert unknown.returncode == 2 and "rows_by_teacher_rollout" in unknown.stderr
    missing = script("rows_by_teacher_rollout", "--db", str(tmp_path / "absent.duckdb"))
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert not (tmp_path / "absent.duckdb").exists()


def dbt_docs_generate(workdir: Path) -> subprocess.CompletedProcess:
    """`dbt docs generate` on the built database, writing manifest.json and catalog.json to workdir/docs."""
    command = [
        str(Path(sys.executable).with_name("dbt")),
        "docs",
        "generate",
        "--project-dir", str(REPO),
        "--profiles-dir", str(REPO),
        "--target-path", str(workdir / "docs"),
        "--log-path", str(workdir / "docs_logs"),
        "--vars", json.dumps({"export_path": str(workdir / "output" / "sera_rectified.parquet")}),
    ]
    env = {"SERA_DB": str(workdir / "sera.duckdb"), "SERA_TEMP_DIR": str(workdir / "spill"), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(workdir)}
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_dbt_docs_describe_every_model_and_column(built: Path) -> None:
    result = dbt_docs_generate(built)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    manifest = json.loads((built / "docs" / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((built / "docs" / "catalog.json").read_text(encoding="utf-8"))
    models = {uid: node for uid, node in manifest["nodes"].items() if node["resource_type"] == "model" and node["package_name"] == "sera_rectify"}
    assert {node["name"] for node in models.values()} >= {"sera_rectified", "sera_rectified_rejects", "source_reconciliation", "dataset_summary"}

    problems = []
    for uid, node in sorted(models.items()):
        if not node["description"].strip():
            problems.append(f"{node['name']}: no model description")
        if uid not in catalog["nodes"]:
            problems.append(f"{node['name']}: not in catalog.json (not built?)")
            continue
        documented = {name.lower(): column for name, column in node["columns"].items()}
        built_columns = [name.lower() for name in catalog["nodes"][uid]["columns"]]
        for column in built_columns:
            if column not in documented:
                problems.append(f"{node['name']}.{column}: not in the yml")
            elif not (documented[column].get("description") or "").strip():
                problems.append(f"{node['name']}.{column}: empty description")
        for column in sorted(set(documented) - set(built_columns)):
            problems.append(f"{node['name']}.{column}: in the yml but not in the table")
    assert problems == [], "\n".join(problems)

"""The benchmark's tools (bench/): the naive converter agrees with the project's, and bench/run.py reports.

Why: bench/naive.py is both the baseline the build's speed is judged against and an independent
implementation of spec/conversion.md §1-§5 and §7 (written from the spec, not from convert.py). If the two
disagree on any row of the embedded sample, one of them is wrong; the test names the row. Timings are not
checked here (the benchmark checks its own targets); the smoke run only checks that a report is produced.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pyarrow.parquet as pq
import pytest

from sera_rectify.parts import build_parts, read_parts
from sera_testkit.constants import COST_LIMIT_EXIT, EXPORT_COLUMNS, REPO, SERA_ROWS_DATASET, TESTS_DIR
from sera_testkit.constants import SAMPLE_DIR as SAMPLE

BENCH = REPO / "bench"


def load_bench(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def file_row(naive: ModuleType, dataset: str, relative: str, path: Path) -> dict:
    """A row of stg_sera__source_files joined with stg_sera__datasets, as the conversion model passes it."""
    teacher, scale, rollout = naive.DATASETS[dataset]
    return {
        "source_dataset": dataset,
        "source_file": relative,
        "file_path": str(path),
        "file_format": "jsonl",
        "dataset_order": list(naive.DATASETS).index(dataset) + 1,
        "teacher": teacher,
        "scale": scale,
        "rollout": rollout,
        "source_format": "sera",
        "file_bytes": path.stat().st_size,
    }


@pytest.fixture(scope="module")
def naive() -> ModuleType:
    return load_bench("naive")


@pytest.fixture(scope="module")
def project_rows(naive: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, int], dict]:
    """The project's conversion of every sample row, keyed by (dataset, source_file, source_row)."""
    files = [file_row(naive, dataset, relative, path) for dataset, relative, path in naive.source_files(SAMPLE)]
    parts = tmp_path_factory.mktemp("parts") / "converted"
    rows = read_parts(build_parts(files, str(parts), workers=1)).to_pylist()
    return {(r["source_dataset"], r["source_file"], r["source_row"]): r for r in rows}


def test_naive_converter_equals_the_project_on_every_sample_row(naive: ModuleType, project_rows: dict) -> None:
    spec = naive.Spec()
    seen, differences = set(), []
    converted = rejected = 0
    for dataset, relative, path in naive.source_files(SAMPLE):
        for index, line in naive.iter_lines(path):
            key = (dataset, relative, index)
            seen.add(key)
            mine, theirs = naive.convert_line(line, dataset, spec), project_rows.get(key)
            if theirs is None:
                differences.append(f"{key}: the project has no row")
            elif "reject" in mine or theirs["reject_reason"] is not None:
                rejected += 1
                if mine.get("reject") != theirs["reject_reason"]:
                    naive_says, project_says = mine.get("reject") or "converts", theirs["reject_reason"] or "converts"
                    differences.append(f"{key}: naive {naive_says}, project {project_says} ({theirs['reject_detail']})")
            else:
                converted += 1
                columns = [c for c in EXPORT_COLUMNS if c in theirs]  # teacher/scale/rollout: if the project's rows carry them
                differences += [f"{key}: {column} differs" for column in columns if mine[column] != theirs[column]]
    differences += [f"{key}: only the project has it" for key in set(project_rows) - seen]
    assert not differences, "\n".join(differences)
    assert converted > 50 and rejected > 5  # the sample holds both kinds


def _assistant_indexes(messages: list[dict]) -> list[int]:
    return [i for i, m in enumerate(messages) if m.get("role") == "assistant" and m.get("tool_calls")]


def _set_call(messages: list[dict], **function: object) -> None:
    messages[_assistant_indexes(messages)[0]]["tool_calls"] = [{"index": -1, "id": "call_1", "type": "function", "function": function}]


def _text_only(text: object) -> dict:
    return {"role": "assistant", "content": text, "tool_calls": None}


# Edits of a real row's message list, each exercising one rule (or an edge the spec leaves to judgement:
# then the point is only that both converters agree).
EDGE_CASES = {
    "blank_thought_uses_content": lambda m: m[_assistant_indexes(m)[1]].update(thought="  \n"),
    "no_thought_key_content_parts": lambda m: (
        m[_assistant_indexes(m)[1]].update(content=[{"type": "text", "text": "<think>a</think> c"}])
        or m[_assistant_indexes(m)[1]].pop("thought")
    ),
    "unclosed_and_several_think_blocks": lambda m: m[_assistant_indexes(m)[2]].update(
        thought="x <think> a </think> y <think> b", content=""
    ),
    "empty_reasoning_is_filled": lambda m: m[_assistant_indexes(m)[2]].update(thought="", content="<think> </think>"),
    "text_only_in_the_middle": lambda m: m.insert(_assistant_indexes(m)[3], _text_only("<think>plan</think>\nnext")),
    "empty_text_only_message": lambda m: m.insert(_assistant_indexes(m)[3], _text_only(None)),
    "text_only_after_the_end": lambda m: m.append(_text_only(COST_LIMIT_EXIT)),
    "trailing_submits_with_text_between": lambda m: m.extend(
        [
            _text_only("<think>again</think>"),
            {"role": "assistant", "thought": "", "content": "", "tool_calls": [{"function": {"name": "submit", "arguments": None}}]},
        ]
    ),
    "arguments_null": lambda m: _set_call(m, name="bash", arguments=None),
    "arguments_object": lambda m: _set_call(
        m, name="str_replace_editor", arguments={"command": "view", "view_range": [1, 5], "flag": True}
    ),
    "arguments_list": lambda m: _set_call(m, name="bash", arguments="[1, 2]"),
    "arguments_nan": lambda m: _set_call(m, name="bash", arguments='{"timeout": NaN}'),
    "arguments_lone_surrogate": lambda m: _set_call(m, name="bash", arguments='{"command": "echo \\ud83d"}'),
    "tool_calls_an_object": lambda m: m[_assistant_indexes(m)[0]].update(tool_calls={"function": {"name": "bash"}}),
    "unknown_tool_name": lambda m: _set_call(m, name="find_file", arguments="{}"),
    "tool_name_a_list": lambda m: _set_call(m, name=["bash"], arguments="{}"),  # unhashable: must reject, not crash
    "tool_content_null_and_crlf": lambda m: (
        m[_assistant_indexes(m)[0] + 1].update(content=None)
        or m[_assistant_indexes(m)[1] + 1].update(content="OBSERVATION:\nOBSERVATION:\na\r\nb")
    ),
    "tool_text_part_null": lambda m: m[_assistant_indexes(m)[0] + 1].update(
        content=[{"type": "text", "text": None}, {"type": "text", "text": "x"}]
    ),
    "image_part": lambda m: m[_assistant_indexes(m)[0] + 1].update(content=[{"type": "image_url", "image_url": "x"}]),
    "orphan_tool_output": lambda m: m.insert(3, {"role": "tool", "content": "x"}),
    "missing_tool_output": lambda m: m.pop(_assistant_indexes(m)[0] + 1),
    "last_submit_without_output": lambda m: m.pop(),
    "not_submitted": lambda m: [call["function"].update(name="bash") for i in _assistant_indexes(m) for call in m[i]["tool_calls"]],
    "unknown_role": lambda m: m[4].update(role="observer"),
    "late_system_message": lambda m: m.insert(5, {"role": "system", "content": "again"}),
    "bad_preamble": lambda m: m.pop(0),
    "system_text_with_placeholders": lambda m: m[0].update(content=[{"type": "text", "text": "{tools_json} {source_system}"}]),
    "lone_surrogates_in_text": lambda m: m[_assistant_indexes(m)[0] + 1].update(content="OBSERVATION:\n\ud83d x \udc00"),
    "unicode_and_control_characters": lambda m: m[1].update(content="\x00 é 𝔘 \u2028 日本"),
}
ROW_EDITS = {
    "messages_as_a_list": lambda row, messages: row.update(messages=messages),
    "messages_empty_string": lambda row, messages: row.update(messages=""),
    "messages_empty_list": lambda row, messages: row.update(messages="[]"),
    "messages_an_object": lambda row, messages: row.update(messages="{}"),
    "messages_truncated": lambda row, messages: row.update(messages=json.dumps(messages)[:500]),
    "null_rollout_patch_answer_from_last_output": lambda row, messages: row.update(rollout_patch=None),
    "metadata_not_strings_and_surrogates": lambda row, messages: row.update(instance_id=17, func_name="f\ud800", func_path=None),
}
# Where the two converters once disagreed (the project was wrong by the spec, since fixed): kept as regressions.
FIXED_DIVERGENCES = {
    # §2/§5: arguments are parsed JSON re-dumped with json.dumps; an integer beyond 64 bits must stay exact
    # (orjson had turned it into the float 1e+30).
    "arguments_big_integer": lambda m: _set_call(m, name="bash", arguments='{"n": 1000000000000000000000000000000}'),
}


def _compare_one(naive: ModuleType, dataset: str, row: dict) -> list[str]:
    from sera_rectify.rows import output_row
    from sera_rectify.sources import parse_line

    line = json.dumps(row).encode()
    mine = naive.convert_line(line, dataset, naive.Spec())
    theirs = output_row(parse_line(line), dataset, dataset[-2:])
    if "reject" in mine or theirs.get("reject_reason"):
        if mine.get("reject") != theirs.get("reject_reason"):
            return [f"naive {mine.get('reject') or 'converts'}, project {theirs.get('reject_reason') or 'converts'}"]
        return []
    return [f"{c} differs" for c in ("messages", "instance_id", "func_name", "func_path", "line_level_recall") if mine[c] != theirs[c]]


@pytest.fixture(scope="module")
def real_row() -> tuple[str, dict]:
    dataset = SERA_ROWS_DATASET
    path = SAMPLE / dataset / "real" / "sera-4.6-lite-t2_real_rows.jsonl"
    return dataset, json.loads(path.read_text(encoding="utf-8").splitlines()[0])


@pytest.mark.parametrize("case", sorted(EDGE_CASES) + sorted(ROW_EDITS))
def test_naive_converter_equals_the_project_on_edge_cases(naive: ModuleType, real_row: tuple[str, dict], case: str) -> None:
    dataset, row = real_row
    row, messages = dict(row), json.loads(row["messages"])
    if case in EDGE_CASES:
        EDGE_CASES[case](messages)
        row["messages"] = json.dumps(messages)
    else:
        ROW_EDITS[case](row, messages)
    assert _compare_one(naive, dataset, row) == []


@pytest.mark.parametrize("case", sorted(FIXED_DIVERGENCES))
def test_fixed_divergences(naive: ModuleType, real_row: tuple[str, dict], case: str) -> None:
    dataset, row = real_row
    row, messages = dict(row), json.loads(row["messages"])
    FIXED_DIVERGENCES[case](messages)
    row["messages"] = json.dumps(messages)
    assert _compare_one(naive, dataset, row) == []


def test_naive_writes_the_export_schema(naive: ModuleType, tmp_path: Path) -> None:
    summary = naive.convert(SAMPLE, tmp_path / "naive.parquet")
    table = pq.read_table(tmp_path / "naive.parquet")
    assert tuple(table.schema.names) == EXPORT_COLUMNS
    assert all(field.nullable for field in table.schema)
    assert table.num_rows == summary["rows_out"] and summary["rows_read"] == summary["rows_out"] + summary["rows_rejected"]
    assert pq.ParquetFile(tmp_path / "naive.parquet").metadata.row_group(0).column(0).compression == "ZSTD"


def test_generator_is_deterministic_cached_and_proportional(tmp_path: Path) -> None:
    generate = load_bench("generate")
    first = generate.generate(tmp_path / "a", target_rows=40, pool=3, quiet=True)
    again = generate.generate(tmp_path / "a", target_rows=40, pool=3, quiet=True)
    generate.pool_row.cache_clear()  # make the rows again: same bytes
    other = generate.generate(tmp_path / "b", target_rows=40, pool=3, quiet=True)
    assert not first["cached"] and again["cached"]
    assert [d["rows"] for d in first["datasets"].values()] == [14, 12, 7, 7]
    for entry in first["datasets"].values():
        assert (tmp_path / "a" / entry["file"]).read_bytes() == (tmp_path / "b" / entry["file"]).read_bytes()
    assert other["total_bytes"] == first["total_bytes"]
    lines = (tmp_path / "a" / first["datasets"]["Sera-4.5A-Full-T1"]["file"]).read_text().splitlines()
    ids = [json.loads(line)["instance_id"] for line in lines]
    assert len(set(ids)) == len(ids)


def test_generated_rows_convert(naive: ModuleType, tmp_path: Path) -> None:
    generate = load_bench("generate")
    generate.generate(tmp_path, target_rows=8, pool=2, quiet=True)
    summary = naive.convert(tmp_path, tmp_path / "out.parquet")
    assert summary["rows_read"] == 8 and summary["rows_out"] == 8


def test_run_smoke_writes_a_report(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    command = [
        sys.executable,
        str(BENCH / "run.py"),
        "--bytes",
        "2e6",
        "--scales",
        "1",
        "--pool",
        "4",
        "--data-dir",
        str(tmp_path / "data"),
        "--work-dir",
        str(tmp_path),
        "--out",
        str(out),
    ]
    # as `make bench` runs it: bench/generate.py imports sera_testkit, which is not installed
    pythonpath = os.pathsep.join(filter(None, [str(TESTS_DIR / "support"), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=pythonpath)
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert out.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert {"machine", "sizes", "growth", "targets", "total_seconds"} <= set(report)
    size = report["sizes"][0]
    assert size["source_rows"] > 0 and size["source_bytes"] > 0
    for step in ("copy_floor", "naive", "dbt_build"):
        measured = size["steps"][step]
        assert {"seconds", "mb_per_s", "rows_per_s", "peak_rss_bytes", "returncode"} <= set(measured)
        assert measured["peak_rss_bytes"] > 0
    assert size["steps"]["copy_floor"]["returncode"] == 0 and size["steps"]["naive"]["returncode"] == 0
    assert {t["target"] for t in report["targets"]} >= {"build_vs_copy_floor", "build_vs_naive", "build_peak_rss_bytes", "overlap_share_of_build"}
    build = size["steps"]["dbt_build"]["build"]
    assert build["overlap_check_seconds"] > 0 and 0 < size["steps"]["dbt_build"]["overlap_share_of_build"] < 1
    assert "benchmark-overlap check:" in result.stdout
    assert "copy_floor" in result.stdout and "dbt_build" in result.stdout


def test_tree_monitor_finds_every_process_of_the_tree() -> None:
    """The memory poller walks /proc/PID/task/*/children: a shell, its two children and a grandchild."""
    run = load_bench("run")
    script = "sleep 3 & (sleep 3 & wait) & wait"
    with subprocess.Popen(["sh", "-c", script]) as process:
        monitor = run.TreeMonitor(process.pid, 0.05)
        deadline = 50
        while len(monitor.tree()) < 4 and deadline:  # sh, its sleep, the sub-shell, the sub-shell's sleep
            subprocess.run(["sleep", "0.05"], check=True)
            deadline -= 1
        monitor.sample()
        tree = monitor.tree()
        process.kill()
    assert tree[0] == process.pid and len(tree) >= 4
    assert monitor.max_processes >= 4 and monitor.peak_rss > 0


def test_tokens_smoke_writes_a_report(tmp_path: Path) -> None:
    """bench/tokens.py on a tiny input with a small tokenizer: every step runs, the report has the ratios,
    and encode_batch's summed lengths equal the build's sum(n_tokens) (the comparison counts the same texts)."""
    out = tmp_path / "tokens.json"
    command = [
        sys.executable,
        str(BENCH / "tokens.py"),
        *("--bytes", "3e6", "--pool", "4", "--vocab", "2000", "--train-rows", "1", "--train-stdlib-files", "0", "--repeats", "1"),
        *("--data-dir", str(tmp_path / "data"), "--work-dir", str(tmp_path), "--out", str(out)),
    ]
    pythonpath = os.pathsep.join(filter(None, [str(TESTS_DIR / "support"), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(command, cwd=REPO, env=dict(os.environ, PYTHONPATH=pythonpath), capture_output=True, text=True, timeout=300)
    assert out.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert list(report["steps"]) == ["no_tokenizer", "tokenizer_first", "tokenizer_cached", "encode_batch"]
    for step, measured in report["steps"].items():
        assert measured["returncode"] == 0, (step, measured.get("error_tail"))
        assert measured["seconds"] > 0 and measured["mb_per_s"] > 0 and measured["peak_rss_bytes"] > 0
        assert [run["seconds"] for run in measured["runs"]] == [measured["seconds"]]
    assert {t["target"]: t["result"] in ("PASS", "FAIL") for t in report["targets"]} == {
        "extra_vs_encode_batch": True,
        "cached_vs_no_tokenizer": True,
    }
    checks, steps = report["checks"], report["steps"]
    assert checks["build_n_tokens_sum"] > 0
    assert checks["encode_batch_n_tokens_sum"] == checks["build_n_tokens_sum"] == checks["cached_build_n_tokens_sum"]
    assert all(value is not False for value in checks.values()), checks
    rows = steps["tokenizer_first"]["build"]["rows_out"]
    assert steps["tokenizer_first"]["n_tokens_log"].startswith(f"n_tokens: {rows} rows counted with the tokenizer, 0 from the cache")
    assert steps["tokenizer_cached"]["n_tokens_log"].startswith(f"n_tokens: 0 rows counted with the tokenizer, {rows} from the cache")
    assert report["tokenizer"]["vocab_reached"] == 2000
    assert "encode_batch" in result.stdout and "n_tokens sum: " in result.stdout


def test_the_format_benchmark_rewrites_the_same_trajectories_into_each_format(sera_rows: list[dict]) -> None:
    """bench/formats.py compares formats on the same trajectories: each layout of a real SERA row must
    convert with its format into the same steps (tool names and count) as the row itself."""
    formats_bench = load_bench("formats")
    from sera_rectify.rows import output_row

    for row in sera_rows:
        reference = output_row(row, SERA_ROWS_DATASET, "T1")
        names = [json.loads(m["content"][len("<tool_call>") : -len("</tool_call>")])["name"] for m in json.loads(reference["messages"]) if m["role"] == "tool_call"]
        for source_format, layout in formats_bench.LAYOUTS.items():
            converted = output_row(json.loads(json.dumps(layout(row))), SERA_ROWS_DATASET, "T1", None, source_format)
            assert "reject_reason" not in converted, (source_format, converted.get("reject_detail"))
            assert converted["n_tool_calls"] == reference["n_tool_calls"], source_format
            if source_format != "swe-agent-text":  # text actions are all bash calls
                calls = [json.loads(m["content"][len("<tool_call>") : -len("</tool_call>")])["name"] for m in json.loads(converted["messages"]) if m["role"] == "tool_call"]
                renamed = {"submit": "finish"} if source_format == "openhands" else {}
                assert calls == [renamed.get(name, name) for name in names], source_format

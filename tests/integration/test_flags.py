"""Flags (issue "Know what you train on"): real `dbt build`s of planted rows against a small benchmark the
test writes, the Hub-id path of the `benchmark` var through the fake Hub and then offline from the
`datasets` cache, and the vars refused before any work.

The planted rows are the three real rows of allenai/Sera-4.6-Lite-T2 (tests/fixtures/sera/), unchanged,
copied and edited the way each rule's artefact looks in real data (docs/flags.md), and real rows of other
formats (tests/fixtures/other-formats/) that carry flags as published: OpenHands runs with dropped nudges,
a truncated output and a loop, SWE-smith's canned submit. The benchmark holds a task of one row's
repository, a problem statement sharing a 13-word sequence with another row's task, and one sharing only
12 words (no flag: shorter than an n-gram).
"""

from __future__ import annotations

import copy
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dbt_runs import EXPORT_NAME, dbt_build, query

from sera_testkit.constants import OTHER_FORMATS_DIR, SERA_ROWS_DATASET, SERA_ROWS_FILE
from sera_testkit.fake_hub import FakeHub

pytestmark = pytest.mark.integration

PREVIOUS = b"the previous good export"
BENCHMARK_REPO = "acme/bench"
TRUNCATION = "<response clipped><NOTE>To save on context only part of this file has been shown to you.</NOTE>"
CANNED_SUBMIT = "<think>\nSince we have successfully fixed the issue and verified it works, let's submit the changes:\n</think>"
# the planted rows in source order: (dataset, instance_id, the flags it must carry in stg_spec__flags order)
EXPECTED = [
    (SERA_ROWS_DATASET, "tinydb_10309", ["benchmark_repo"]),
    (SERA_ROWS_DATASET, "ptyprocess_10174", ["benchmark_text"]),
    (SERA_ROWS_DATASET, "ptyprocess_10174 (copy)", ["benchmark_text", "duplicate"]),
    (SERA_ROWS_DATASET, "cantools_10317", ["empty_patch"]),
    (SERA_ROWS_DATASET, "tinydb_loop", ["benchmark_repo", "tool_loop"]),
    (SERA_ROWS_DATASET, "tinydb_truncated", ["benchmark_repo", "truncated_output"]),
    (SERA_ROWS_DATASET, "tinydb_autosubmit", ["benchmark_repo", "limit_autosubmit"]),
    ("swe_gym", "python__mypy-15976_0", ["dropped_nudges"]),
    ("swe_gym", "python__mypy-15976_0", ["duplicate", "unresolved", "dropped_nudges"]),  # its copy, resolved set to false
    ("swe_gym", "getmoto__moto-6387_0", ["dropped_nudges", "truncated_output", "tool_loop"]),
    ("swe_smith", "pyupio__safety.7654596b.pr_552", ["limit_autosubmit", "empty_patch"]),
]
DATASETS = [SERA_ROWS_DATASET, "swe_gym", "swe_smith"]
# real rows of other formats, as published
OPENHANDS_ROWS = OTHER_FORMATS_DIR / "openhands" / "openhands_rows.json"
SWE_SMITH_ROWS = OTHER_FORMATS_DIR / "swe-smith-xml" / "swe-smith-xml_rows.json"
EXCLUDED = ["duplicate", "tool_loop"]


def words_of(text: str, start: int, n: int) -> str:
    """n consecutive words of text from word `start`, as they are written there (punctuation and all)."""
    return " ".join(text.split()[start : start + n])


def edited(row: dict, instance_id: str, edit) -> dict:
    """A copy of a real row with another instance_id and its message list changed by edit(messages)."""
    new = copy.deepcopy(row)
    messages = json.loads(new["messages"])
    edit(messages)
    new["messages"], new["instance_id"] = json.dumps(messages), instance_id
    return new


def repeat_first_call(messages: list[dict]) -> None:
    """The first bash call and its output 4 times in a row: a loop."""
    messages[2:4] = messages[2:4] * 4


def clip_an_output(messages: list[dict]) -> None:
    """A tool output cut as SWE-agent's str_replace_editor cuts a long file view."""
    messages[3]["content"][0]["text"] += TRUNCATION


def canned_final_submit(messages: list[dict]) -> None:
    """The final submit's text replaced by the one SERA's post-processing writes for "Exit due to cost limit"."""
    last_call = max(index for index, message in enumerate(messages) if message["role"] == "assistant")
    messages[last_call]["content"] = messages[last_call]["thought"] = CANNED_SUBMIT


def planted_rows(real: list[dict]) -> list[dict]:
    tinydb, ptyprocess, cantools = real
    return [
        tinydb,
        ptyprocess,
        dict(ptyprocess, instance_id="ptyprocess_10174 (copy)"),  # identical messages
        dict(cantools, rollout_patch=""),
        edited(tinydb, "tinydb_loop", repeat_first_call),
        edited(tinydb, "tinydb_truncated", clip_an_output),
        edited(tinydb, "tinydb_autosubmit", canned_final_submit),
    ]


def benchmark_table(real: list[dict]) -> pa.Table:
    _, ptyprocess, cantools = real
    return pa.table(
        {
            "instance_id": ["msiemens__tinydb-1", "acme__planted-1", "acme__planted-2"],
            "repo": ["msiemens/tinydb", "acme/planted", "acme/planted"],
            "problem_statement": [
                "JSONStorage loses data when the file is opened twice.",
                "Intro text. " + words_of(ptyprocess["problem_statement"], 10, 13).upper() + " More text.",
                "Intro text. " + words_of(cantools["problem_statement"], 10, 12) + " More text.",
            ],
        }
    )


def real_rows_of(path: Path, *instance_ids: str) -> list[dict]:
    by_id = {row["instance_id"]: row for row in json.loads(path.read_text(encoding="utf-8"))}
    return [by_id[instance_id] for instance_id in instance_ids]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row) + "\n")


@pytest.fixture(scope="module")
def real_rows() -> list[dict]:
    return json.loads(SERA_ROWS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory, real_rows: list[dict]) -> dict:
    """The planted sources, the benchmark (Parquet, and as JSON Lines without problem_statement)."""
    root = tmp_path_factory.mktemp("planted")
    write_jsonl(root / "sources" / SERA_ROWS_DATASET / "planted.jsonl", planted_rows(real_rows))
    mypy, moto = real_rows_of(OPENHANDS_ROWS, "python__mypy-15976_0", "getmoto__moto-6387_0")
    write_jsonl(root / "swe_gym" / "rows.jsonl", [mypy, dict(mypy, resolved=False), moto])
    write_jsonl(root / "swe_smith" / "rows.jsonl", real_rows_of(SWE_SMITH_ROWS, "pyupio__safety.7654596b.pr_552"))
    table = benchmark_table(real_rows)
    pq.write_table(table, root / "benchmark.parquet")
    write_jsonl(root / "no_statement.jsonl", table.drop_columns(["problem_statement"]).to_pylist())
    return {"root": root, "benchmark": root / "benchmark.parquet", "no_statement": root / "no_statement.jsonl", "table": table}


def planted_vars(planted: dict, **extra) -> dict:
    root = planted["root"]
    traj_dirs = {
        "swe_gym": {"path": str(root / "swe_gym"), "format": "openhands"},
        "swe_smith": {"path": str(root / "swe_smith"), "format": "swe-smith-xml"},
    }
    return {"sources_dir": str(root / "sources"), "datasets": [SERA_ROWS_DATASET], "traj_dirs": traj_dirs} | extra


@pytest.fixture(scope="module")
def flagged_build(tmp_path_factory: pytest.TempPathFactory, planted: dict) -> Path:
    workdir = tmp_path_factory.mktemp("flagged_build")
    result = dbt_build(workdir, vars=planted_vars(planted, benchmark=str(planted["benchmark"]), exclude_flags=EXCLUDED))
    assert result.returncode == 0, result.stdout[-5000:]
    return workdir


def test_each_planted_row_carries_exactly_its_flags(flagged_build: Path) -> None:
    for mart in ("sera_rectified", "sera_rectified_sft"):
        rows = query(flagged_build, f"select source_dataset, instance_id, flags from {mart} order by dataset_order, source_file, source_row")
        assert rows == [tuple(expected) for expected in EXPECTED], mart


def test_benchmark_overlap_names_the_benchmark_task_each_overlapping_row_shares_13_words_with(flagged_build: Path) -> None:
    overlaps = query(
        flagged_build, "select instance_id, benchmark_instance_id, benchmark_repo, n_shared_ngrams from benchmark_overlap order by all"
    )
    assert overlaps == [
        ("ptyprocess_10174", "acme__planted-1", "acme/planted", 1),
        ("ptyprocess_10174 (copy)", "acme__planted-1", "acme/planted", 1),
    ]


def test_both_exports_drop_the_excluded_flags_and_the_tables_keep_every_row(flagged_build: Path) -> None:
    kept = [(instance_id, flags) for _, instance_id, flags in EXPECTED if not set(flags) & set(EXCLUDED)]
    main = pq.read_table(flagged_build / "output" / EXPORT_NAME)
    sft = pq.read_table(flagged_build / "output" / "sera_rectified_sft.parquet")
    assert main.column_names[-1] == "line_level_recall" and len(main.column_names) == 8
    assert main.column("instance_id").to_pylist() == [instance_id for instance_id, _ in kept]
    assert list(zip(sft.column("instance_id").to_pylist(), sft.column("flags").to_pylist(), strict=True)) == kept
    assert sft.schema.field("flags").type == pa.list_(pa.string())
    assert query(flagged_build, "select count(*) from sera_rectified") == [(len(EXPECTED),)]
    assert query(flagged_build, "select filters from export_filters") == [("not list_has_any(flags, ['duplicate', 'tool_loop'])",)]


def test_the_sft_export_loads_flags_as_python_lists(flagged_build: Path) -> None:
    import datasets

    loaded = datasets.load_dataset("parquet", data_files=str(flagged_build / "output" / "sera_rectified_sft.parquet"), split="train")
    assert loaded.features["flags"] == datasets.List(datasets.Value("string"))
    assert loaded[0]["flags"] == ["benchmark_repo"]


def test_the_card_counts_each_flag_per_dataset(flagged_build: Path) -> None:
    card = (flagged_build / "output" / "README.md").read_text(encoding="utf-8")
    assert "| Flag | " + " | ".join(f"`{name}`" for name in DATASETS) + " | All | Meaning |" in card
    for flag in ("benchmark_repo", "benchmark_text", "duplicate", "unresolved", "dropped_nudges", "dropped_format_errors", "tool_loop"):
        counts = [sum(flag in flags for dataset, _, flags in EXPECTED if dataset == name) for name in DATASETS]
        line = next(line for line in card.splitlines() if line.startswith(f"| `{flag}` |"))
        assert [cell.strip() for cell in line.split("|")[2:6]] == [str(n) for n in [*counts, sum(counts)]], line
    assert re.search(r"checked against `[^`]*benchmark\.parquet` \(3 tasks\)", card)


def test_without_benchmark_the_benchmark_codes_are_not_checked(sample_build: Path) -> None:
    assert query(sample_build, "select count(*) from benchmark_overlap") == [(0,)]
    assert query(sample_build, "select count(*) from sera_rectified where list_has_any(flags, ['benchmark_repo', 'benchmark_text'])") == [
        (0,)
    ]
    card = (sample_build / "output" / "README.md").read_text(encoding="utf-8")
    assert "`benchmark_repo` and `benchmark_text` were not checked" in card


# ---------------------------------------------------------------------------------------------
# a Hub dataset id: loaded with `datasets` from the fake Hub, then offline from its cache


@pytest.fixture(scope="module")
def hub_loads(tmp_path_factory: pytest.TempPathFactory, planted: dict) -> dict:
    """stg_benchmark__instances built twice for benchmark acme/bench (split test): online against the
    fake Hub, then with HF_HUB_OFFLINE=1 from the `datasets` cache the first load filled."""
    workdir = tmp_path_factory.mktemp("hub_benchmark")
    parquet = planted["benchmark"].read_bytes()
    files = {"data/test-00000-of-00001.parquet": parquet, "README.md": b"# a benchmark\n"}
    env = {"HF_HOME": str(workdir / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1", "NO_PROXY": "127.0.0.1,localhost"}
    vars = planted_vars(planted, benchmark=BENCHMARK_REPO)
    args = ("run", "--select", "stg_benchmark__instances")
    with FakeHub({BENCHMARK_REPO: files}) as hub:
        online = dbt_build(workdir, vars=vars, env=env | {"HF_ENDPOINT": hub.endpoint}, args=args)
        requests = list(hub.requests)
    online_rows = query(workdir, "select * from stg_benchmark__instances order by instance_id")
    offline = dbt_build(workdir, vars=vars, env=env | {"HF_HUB_OFFLINE": "1"}, args=args)
    return {"online": online, "offline": offline, "requests": requests, "online_rows": online_rows, "workdir": workdir}


def test_a_hub_benchmark_is_loaded_with_datasets(hub_loads: dict, planted: dict) -> None:
    assert hub_loads["online"].returncode == 0, hub_loads["online"].stdout[-4000:]
    assert any(method == "GET" and path.endswith("/data/test-00000-of-00001.parquet") for method, path in hub_loads["requests"])
    assert hub_loads["online_rows"] == sorted(tuple(row.values()) for row in planted["table"].to_pylist())


def test_a_hub_benchmark_loads_offline_from_the_datasets_cache(hub_loads: dict) -> None:
    assert hub_loads["offline"].returncode == 0, hub_loads["offline"].stdout[-4000:]
    assert query(hub_loads["workdir"], "select * from stg_benchmark__instances order by instance_id") == hub_loads["online_rows"]


# ---------------------------------------------------------------------------------------------
# refused before any work: one line naming what is wrong

REFUSED = {
    "unknown flag": (
        {"exclude_flags": ["duplicates"]},
        ['var exclude_flags = "duplicates" is not valid', "Valid values: benchmark_repo, benchmark_text, duplicate, unresolved"],
    ),
    "benchmark flag without benchmark": (
        {"exclude_flags": ["duplicate", "benchmark_text"]},
        ['var exclude_flags = "benchmark_text" is not valid', "need the benchmark var, which is not set"],
    ),
    "benchmark without problem_statement": (
        {"benchmark": "{no_statement}"},
        ["no_statement.jsonl has no column problem_statement", "instance_id, repo, problem_statement"],
    ),
    "benchmark neither a file nor a Hub dataset": (
        {"benchmark": "no/such/file.parquet"},
        ["benchmark no/such/file.parquet is not a local file and cannot be loaded from the Hub with split test"],
    ),
}


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory, planted: dict) -> dict:
    def run(name: str):
        workdir = tmp_path_factory.mktemp(name.replace(" ", "_"))
        (workdir / "output").mkdir()
        (workdir / "output" / EXPORT_NAME).write_bytes(PREVIOUS)
        vars = {key: value.format(**planted) if isinstance(value, str) else value for key, value in REFUSED[name][0].items()}
        env = {"HF_HOME": str(workdir / "hf"), "HF_HUB_OFFLINE": "1"}
        return workdir, dbt_build(workdir, vars=planted_vars(planted, **vars), env=env)

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(REFUSED, pool.map(run, REFUSED), strict=True))


@pytest.mark.parametrize("case", REFUSED)
def test_a_bad_flag_or_benchmark_var_stops_the_build_before_any_work(refused: dict, case: str) -> None:
    workdir, result = refused[case]
    assert result.returncode == 1
    for fragment in REFUSED[case][1]:
        assert fragment in result.stdout, result.stdout[-3000:]
    assert not (workdir / "sera_converted").exists()
    assert (workdir / "output" / EXPORT_NAME).read_bytes() == PREVIOUS
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("select table_name from information_schema.tables").fetchall()}
    assert "int_conversion_parts" not in tables

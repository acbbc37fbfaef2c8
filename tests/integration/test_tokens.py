"""Token counts and budgets end to end (issue "Ready to train"): real `dbt build` runs of the sample with a
small real tokenizer made here (sera_testkit.tokenizer: a BPE from the `tokenizers` trainer, saved with
Qwen3's verbatim chat template), loaded by the same AutoTokenizer code a user runs. No network: a Hub id
is read from a pre-filled Hugging Face cache with HF_HUB_OFFLINE=1.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from dbt_runs import EXPORT_NAME, dbt_build, query

from sera_rectify import render
from sera_testkit.tokenizer import make_tokenizer

pytestmark = pytest.mark.integration

BUDGET = 20_000
SECOND_BUDGET = 9_000
TOOLS = json.loads(render.sera_tools().schemas_json)
SFT_NAME = "sera_rectified_sft.parquet"
# a chat template that refuses the longer rows, as a template with a length check or an unsupported
# message shape would: those rows get no count
REFUSING_TEMPLATE = (
    "{%- if messages | length > 40 %}{{ raise_exception('this template takes at most 40 messages') }}{% endif %}"
    "{%- for message in messages %}<|im_start|>{{ message.role }}\n{{ message.content }}<|im_end|>\n{% endfor %}"
)


@pytest.fixture(scope="module")
def tokenizer_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tokenizer(tmp_path_factory.mktemp("tokenizer") / "tiny-qwen3")


@pytest.fixture(scope="module")
def trainer_tokenizer(tokenizer_folder: Path):
    """The tokenizer as a trainer loads it, to count independently of the build."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tokenizer_folder))


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory, tokenizer_folder: Path) -> dict:
    """Two builds in one work folder: the first counts, the second (another budget) reads the cache."""
    workdir = tmp_path_factory.mktemp("tokens")
    first = dbt_build(workdir, vars={"tokenizer": str(tokenizer_folder), "max_tokens": BUDGET})
    assert first.returncode == 0, first.stdout[-4000:]
    first_log = (workdir / "logs" / "dbt.log").read_text(encoding="utf-8")
    first_output = workdir / "first_output"
    shutil.copytree(workdir / "output", first_output)
    second = dbt_build(workdir, vars={"tokenizer": str(tokenizer_folder), "max_tokens": SECOND_BUDGET})
    assert second.returncode == 0, second.stdout[-4000:]
    second_log = (workdir / "logs" / "dbt.log").read_text(encoding="utf-8")[len(first_log) :]
    return {"workdir": workdir, "first_output": first_output, "first_log": first_log, "second_log": second_log}


def sft_rows(workdir: Path) -> list[tuple]:
    return query(workdir, "select messages, n_tokens, instance_id, source_file, source_row from sera_rectified_sft")


def test_every_row_counts_what_apply_chat_template_gives(builds: dict, trainer_tokenizer) -> None:
    rows = sft_rows(builds["workdir"])
    assert len(rows) == 93
    for messages, n_tokens, *_ in rows:
        encoded = trainer_tokenizer.apply_chat_template(json.loads(messages), tools=TOOLS, tokenize=True, return_dict=True)
        assert n_tokens == len(encoded["input_ids"])


def test_both_exports_keep_the_rows_within_the_budget_and_the_tables_keep_all(builds: dict) -> None:
    workdir, first = builds["workdir"], builds["first_output"]
    within = [row for row in sft_rows(workdir) if row[1] <= BUDGET]
    assert 0 < len(within) < 93
    main = pq.read_table(first / EXPORT_NAME)
    sft = pq.read_table(first / SFT_NAME)
    assert main.column_names == ["messages", "instance_id", "teacher", "scale", "rollout", "func_name", "func_path", "line_level_recall"]
    assert main.column("instance_id").to_pylist() == [row[2] for row in within]  # source order kept
    assert sft.column("n_tokens").to_pylist() == [row[1] for row in within]
    assert query(workdir, "select count(*), count(n_tokens) from sera_rectified") == [(93, 93)]
    second = pq.read_table(workdir / "output" / SFT_NAME).column("n_tokens").to_pylist()
    assert second == [row[1] for row in sft_rows(workdir) if row[1] <= SECOND_BUDGET]


def test_a_second_build_with_another_budget_does_not_tokenize_again(builds: dict) -> None:
    assert "n_tokens: 93 rows counted with the tokenizer, 0 from the cache, 0 not rendered" in builds["first_log"]
    assert "n_tokens: 0 rows counted with the tokenizer, 93 from the cache, 0 not rendered" in builds["second_log"]


def test_sft_rows_load_through_datasets_and_render_byte_for_byte(builds: dict, trainer_tokenizer) -> None:
    """load_dataset(folder, "sft") with the card's configs, then apply_chat_template on the loaded row,
    equals the rendering of the original dicts, with Qwen3's own template."""
    from datasets import load_dataset

    ds = load_dataset(str(builds["first_output"]), "sft", split="train")
    originals = [json.loads(row[0]) for row in sft_rows(builds["workdir"]) if row[1] <= BUDGET]
    assert len(ds) == len(originals)
    assert ds.features["messages"].__class__.__name__ == "Json" and ds.features["tools"].__class__.__name__ == "Json"
    for loaded, original in zip(ds, originals, strict=True):
        assert loaded["messages"] == original and loaded["tools"] == TOOLS
        rendered = trainer_tokenizer.apply_chat_template(loaded["messages"], tools=loaded["tools"], tokenize=False)
        assert rendered == trainer_tokenizer.apply_chat_template(original, tools=TOOLS, tokenize=False)
        assert rendered.startswith("<|im_start|>system\n" + original[0]["content"] + "\n\n# Tools\n")


def test_the_card_reports_the_tokenizer_budget_and_distribution(builds: dict, tokenizer_folder: Path) -> None:
    card = (builds["first_output"] / "README.md").read_text(encoding="utf-8")
    assert f"Every row was counted with **{tokenizer_folder}**" in card
    assert f"Both files keep only rows of at most **{BUDGET:,} tokens**." in card
    (total,) = query(builds["workdir"], "select n_within_budget from token_summary where is_total")
    assert "| **All** | 93 | 93 | 0 |" in card and card.count("|") > 0 and total[0] >= 0
    assert "![tokens per row](token_histogram.png)" in card
    assert (builds["first_output"] / "token_histogram.png").read_bytes().startswith(b"\x89PNG")


def test_rows_the_template_cannot_render_have_no_count_and_the_budget_drops_them(tmp_path: Path, tokenizer_folder: Path) -> None:
    template = tmp_path / "refusing.jinja"
    template.write_text(REFUSING_TEMPLATE, encoding="utf-8")
    result = dbt_build(tmp_path, vars={"tokenizer": str(tokenizer_folder), "chat_template": str(template), "max_tokens": 10**9})
    assert result.returncode == 0, result.stdout[-4000:]
    (long_rows, counted, refused) = query(
        tmp_path, "select count_if(n_messages > 3 * 19 + 4), count(n_tokens), count_if(n_tokens is null) from sera_rectified"
    )[0]
    assert refused > 0 and counted > 0 and counted + refused == 93
    assert query(tmp_path, "select n_not_rendered, n_over_budget from token_summary where is_total") == [(refused, refused)]
    assert pq.read_table(tmp_path / "output" / EXPORT_NAME).num_rows == counted
    assert f"| **All** | 93 | {counted} | {refused} |" in (tmp_path / "output" / "README.md").read_text(encoding="utf-8")
    assert long_rows >= refused


def hub_cache_with(tokenizer_folder: Path, home: Path, repo_id: str) -> None:
    """A Hugging Face cache holding repo_id's tokenizer files, as a download leaves it."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = home / "hub" / ("models--" + repo_id.replace("/", "--"))
    shutil.copytree(tokenizer_folder, repo / "snapshots" / revision)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)


def test_a_hub_id_comes_from_the_cache_when_offline(tmp_path: Path, tokenizer_folder: Path, builds: dict) -> None:
    hub_cache_with(tokenizer_folder, tmp_path / "hf", "acme/tiny-qwen3")
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    result = dbt_build(tmp_path, vars={"tokenizer": "acme/tiny-qwen3", "max_tokens": BUDGET}, env=env)
    assert result.returncode == 0, result.stdout[-4000:]
    assert query(tmp_path, "select n_tokens from sera_rectified") == query(builds["workdir"], "select n_tokens from sera_rectified")


# var values -> a fragment of the one error line; each build must stop before any file is read
REFUSED = {
    "unknown hub id": ({"tokenizer": "acme/no-such-tokenizer"}, "tokenizer acme/no-such-tokenizer is not in the local Hugging Face cache"),
    "missing folder": ({"tokenizer": "./no/such/folder"}, "tokenizer folder ./no/such/folder does not exist"),
    "folder without tokenizer files": ({"tokenizer": "{empty}"}, "holds no tokenizer file"),
    "max_tokens zero": ({"tokenizer": "{tokenizer}", "max_tokens": 0}, "var max_tokens = 0 is not valid"),
    "max_tokens not a number": ({"tokenizer": "{tokenizer}", "max_tokens": "32k"}, 'var max_tokens = "32k" is not valid'),
    "max_tokens without tokenizer": ({"max_tokens": 32768}, "the tokenizer var is not set"),
    "chat_template without tokenizer": ({"chat_template": "t.jinja"}, "set tokenizer too"),
    "chat_template not a file": ({"tokenizer": "{tokenizer}", "chat_template": "no/such.jinja"}, "chat_template no/such.jinja is not a file"),
}


@pytest.fixture(scope="module")
def refused(tmp_path_factory: pytest.TempPathFactory, tokenizer_folder: Path) -> dict:
    empty = tmp_path_factory.mktemp("empty_tokenizer")
    (empty / "README.md").write_text("not a tokenizer")

    def run(name: str):
        workdir = tmp_path_factory.mktemp(name.replace(" ", "_"))
        (workdir / "output").mkdir()
        (workdir / "output" / EXPORT_NAME).write_bytes(b"previous")
        vars = {key: value.format(empty=empty, tokenizer=tokenizer_folder) if isinstance(value, str) else value for key, value in REFUSED[name][0].items()}
        return workdir, dbt_build(workdir, vars=vars, env={"HF_HOME": str(workdir / "hf"), "HF_HUB_OFFLINE": "1"})

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(REFUSED, pool.map(run, REFUSED), strict=True))


@pytest.mark.parametrize("case", REFUSED)
def test_a_tokenizer_that_cannot_be_used_stops_the_build_before_any_work(refused: dict, case: str) -> None:
    workdir, result = refused[case]
    assert result.returncode == 1
    assert REFUSED[case][1] in result.stdout, result.stdout[-3000:]
    assert not (workdir / "sera_converted").exists()
    assert (workdir / "output" / EXPORT_NAME).read_bytes() == b"previous"
    with duckdb.connect(str(workdir / "sera.duckdb"), read_only=True) as connection:
        tables = {row[0] for row in connection.execute("select table_name from information_schema.tables").fetchall()}
    assert "stg_sera__source_files" not in tables

"""The dataset card (sera_rectify.card): rendered from a dict of numbers, gathered from DuckDB tables.

The numbers below are the public card's own (shared/seed/dataset-card.md: 211,360 rows; 43-340 turns,
avg 130.6; 13-112 tool calls, avg 42.2); the renderer must print them, never numbers of its own.
"""

from __future__ import annotations

import argparse
from importlib import resources
from pathlib import Path

import duckdb
import pytest
import yaml

from sera_rectify import card
from sera_rectify.export import EXPORT_COLUMNS
from sera_rectify.sft import SFT_COLUMNS

PUBLISHED = [
    ("Sera-4.5A-Full-T1", "GLM-4.5-Air", "full", "T1", 72118, 72118),
    ("Sera-4.5A-Full-T2", "GLM-4.5-Air", "full", "T2", 66337, 66337),
    ("Sera-4.6-Lite-T1", "GLM-4.6", "lite", "T1", 36825, 36824),
    ("Sera-4.6-Lite-T2", "GLM-4.6", "lite", "T2", 36083, 36081),
]


def summary_row(teacher, scale, rollout, n_rows, messages=(43, 130.6, 340), calls=(13, 42.2, 112), recall=None) -> dict:
    return {
        "teacher": teacher,
        "scale": scale,
        "rollout": rollout,
        "is_total": teacher is None,
        "n_rows": n_rows,
        "min_messages": messages[0],
        "avg_messages": messages[1],
        "max_messages": messages[2],
        "min_tool_calls": calls[0],
        "avg_tool_calls": calls[1],
        "max_tool_calls": calls[2],
        "avg_line_level_recall": recall,
    }


def published_numbers(**changes) -> dict:
    numbers = {
        "export_file": "sera_rectified.parquet",
        "export_rows": 211360,
        "filters": None,
        "sft_file": "sera_rectified_sft.parquet",
        "sft_rows": 211360,
        "sources": [
            {
                "source_dataset": d,
                "hub_repo_id": f"allenai/{d}",
                "teacher": t,
                "scale": s,
                "rollout": r,
                "source_format": "sera",
                "license": "ODC-By-1.0",
                "attribution": "Allen Institute for AI (SERA, Open Coding Agents)",
                "rows_read": read,
                "rows_out": out,
                "rows_rejected": read - out,
            }
            for d, t, s, r, read, out in PUBLISHED
        ],
        "distribution": [
            summary_row("GLM-4.5-Air", "full", "T1", 72118, (45, 120.1, 301), (14, 38.7, 99)),
            summary_row("GLM-4.5-Air", "full", "T2", 66337, (46, 125.3, 310), (14, 40.4, 102), recall=0.8123),
            summary_row("GLM-4.6", "lite", "T1", 36824, (43, 140.9, 340), (13, 45.6, 112)),
            summary_row("GLM-4.6", "lite", "T2", 36081, (44, 150.2, 338), (13, 48.7, 111), recall=0.7654),
        ],
        "total": summary_row(None, None, None, 211360, recall=0.7901),
        "rejects": [{"reason": "missing_tool_output", "n_rows": 3, "meaning": "an assistant tool call not followed by a tool message"}],
        "flags": {
            "datasets": [d for d, *_ in PUBLISHED],
            "codes": [
                {
                    "flag": "benchmark_text",
                    "meaning": "shares a 13-word sequence",
                    "needs_benchmark": True,
                    "counts": [0, 0, 2, 1],
                    "total": 3,
                },
                {"flag": "duplicate", "meaning": "a later copy", "needs_benchmark": False, "counts": [12, 0, 0, 0], "total": 12},
            ],
            "benchmark": "princeton-nlp/SWE-bench_Verified",
            "n_benchmark_tasks": 500,
        },
    }
    return numbers | changes


def split_card(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def test_header_is_hub_metadata() -> None:
    header, _ = split_card(card.render_card(published_numbers()))
    assert header["license"] == "odc-by"
    assert header["task_categories"] == ["text-generation"]
    assert header["size_categories"] == ["100K<n<1M"]
    assert header["source_datasets"] == [f"allenai/{d}" for d, *_ in PUBLISHED]
    assert header["configs"] == [
        {"config_name": "default", "data_files": [{"split": "train", "path": "sera_rectified.parquet"}]},
        {"config_name": "sft", "data_files": [{"split": "train", "path": "sera_rectified_sft.parquet"}]},
    ]
    assert {"code", "agent", "tool-use"} <= set(header["tags"])


def test_a_mixed_build_names_every_source_with_its_format_and_license() -> None:
    numbers = published_numbers()
    other = {
        "source_dataset": "nebius",
        "hub_repo_id": None,
        "teacher": None,
        "scale": None,
        "rollout": None,
        "source_format": "swe-agent-text",
        "license": "CC-BY-4.0",
        "attribution": "Nebius",
        "rows_read": 5,
        "rows_out": 5,
        "rows_rejected": 0,
    }
    unlicensed = dict(other, source_dataset="runs", source_format="openhands", license=None, attribution=None)
    numbers["sources"] = [*numbers["sources"], other, unlicensed]
    header, body = split_card(card.render_card(numbers))
    assert header["license"] == "other"
    assert "| `nebius` | 5 | 5 | 0 | from the rows | — | — | swe-agent-text | CC-BY-4.0 |" in body
    assert "- `nebius`: **CC-BY-4.0** — Nebius" in body
    assert "- `runs`: **license not declared: check the source before use**" in body
    assert "`swe-agent-text`, `openhands` format adapters" in body
    _, sera_only = split_card(card.render_card(published_numbers()))
    assert "Format | License" not in sera_only and "Open Data Commons Attribution License" in sera_only


def test_the_numbers_appear() -> None:
    _, body = split_card(card.render_card(published_numbers()))
    assert "211,360 multi-turn SWE-agent coding trajectories" in body
    assert "Trajectories range from 43 to 340 turns (avg 130.6), with 13–112 tool calls per row (avg 42.2)." in body
    # origin: rows read, converted, rejected per source
    assert (
        "| [allenai/Sera-4.6-Lite-T1](https://huggingface.co/datasets/allenai/Sera-4.6-Lite-T1) "
        "| 36,825 | 36,824 | 1 | GLM-4.6 | lite | T1 |" in body
    )
    # distribution, with the total
    assert "| GLM-4.5-Air | full | T1 | 72,118 |" in body
    assert "| **Total** |  |  | **211,360** |" in body
    # per-group statistics
    assert "| GLM-4.6 | lite | T2 | 44 | 150.2 | 338 | 13 | 48.7 | 111 | 0.7654 |" in body
    assert "| GLM-4.5-Air | full | T1 | 45 | 120.1 | 301 | 14 | 38.7 | 99 | — |" in body
    # conversion rate and rejects
    assert "99.999% conversion rate** (211,360 / 211,363 source rows)" in body
    assert "| `missing_tool_output` | 3 | an assistant tool call not followed by a tool message |" in body
    assert "ODC-By" in body and "@misc{shen2026sera," in body


def test_every_number_comes_from_the_dict() -> None:
    """Change the numbers and the card changes with them (nothing is typed into the renderer)."""
    numbers = published_numbers(export_rows=5, sft_rows=5, rejects=[])
    numbers["total"] = summary_row(None, None, None, 5, (7, 8.5, 10), (1, 1.5, 2))
    numbers["distribution"] = [summary_row("GLM-4.6", "lite", "T2", 5, (7, 8.5, 10), (1, 1.5, 2))]
    numbers["sources"] = [numbers["sources"][3] | {"rows_read": 6, "rows_out": 5, "rows_rejected": 1}]
    header, body = split_card(card.render_card(numbers))
    assert header["size_categories"] == ["n<1K"]
    assert "5 multi-turn SWE-agent coding trajectories" in body and "from 1 source dataset into" in body
    assert "Trajectories range from 7 to 10 turns (avg 8.5), with 1–2 tool calls per row (avg 1.5)." in body
    assert "83.333% conversion rate** (5 / 6 source rows)" in body
    assert "No source row was rejected." in body
    for published in ("211,360", "130.6", "42.2", "72,118"):
        assert published not in body


def test_without_an_sft_file_there_is_one_config() -> None:
    header, body = split_card(card.render_card(published_numbers(sft_file=None, sft_rows=None)))
    assert [c["config_name"] for c in header["configs"]] == ["default"]
    assert "reasoning_content" not in body


def test_a_filtered_export_says_so() -> None:
    _, body = split_card(card.render_card(published_numbers(export_rows=25000, filters="rollout = 'T2'")))
    assert "holds 25,000 of the 211,360 trajectories the build converted (filters: `rollout = 'T2'`)" in body
    _, full = split_card(card.render_card(published_numbers()))
    assert "Subset" not in full


@pytest.mark.parametrize(
    "n_rows, category",
    [(0, "n<1K"), (999, "n<1K"), (1000, "1K<n<10K"), (93, "n<1K"), (99_999, "10K<n<100K"), (211_360, "100K<n<1M"), (1_000_000, "1M<n<10M")],
)
def test_size_category(n_rows: int, category: str) -> None:
    assert card.size_category(n_rows) == category


def test_schema_tables_cover_the_export_columns() -> None:
    assert tuple(card.COLUMN_DOCS) == EXPORT_COLUMNS
    assert set(card.SFT_COLUMN_DOCS) == set(SFT_COLUMNS)
    _, body = split_card(card.render_card(published_numbers()))
    for name in SFT_COLUMNS:
        assert f"| `{name}` |" in body


def test_files_are_named_relative_to_the_card(tmp_path: Path) -> None:
    readme = tmp_path / "out" / "README.md"
    assert card.relative_file(tmp_path / "out" / "a.parquet", readme) == "a.parquet"
    assert card.relative_file(tmp_path / "out" / "sub" / "b.parquet", readme) == "sub/b.parquet"
    assert card.relative_file(tmp_path / "elsewhere.parquet", readme) == "elsewhere.parquet"  # uploaded beside the card
    assert card.card_path_for("output/sera_rectified.parquet") == Path("output/README.md")


@pytest.fixture
def small_db() -> duckdb.DuckDBPyConnection:
    """The three marts card_numbers reads, shaped like the dbt models (a few rows, in no particular
    order: the marts are unsorted views, card_numbers sorts)."""
    connection = duckdb.connect()
    connection.execute(
        """
        create table source_reconciliation as select * from (values
            ('my_runs', 1, 2::hugeint, 2, 0, 5, null, 'GLM-4.6', 'lite', 'T1', 'sera', null, null),
            ('Sera-4.6-Lite-T2', 1, 5::hugeint, 3, 2, 4, 'allenai/Sera-4.6-Lite-T2', 'GLM-4.6', 'lite', 'T2', 'sera', 'ODC-By-1.0',
             'Allen Institute for AI (SERA, Open Coding Agents)')
        ) as t(source_dataset, n_files, rows_read, rows_out, rows_rejected, dataset_order, hub_repo_id, teacher, scale, rollout,
               source_format, license, attribution);
        create table reject_summary as select * from (values
            ('not_submitted', 2, 'the last tool call is not a submit')
        ) as t(reason, n_rows, meaning);
        create table dataset_summary as select * from (values
            (null, null, null, true, 5, 7, 9.4, 13, 1, 1.8, 3, 0.5),
            ('GLM-4.6', 'lite', 'T2', false, 3, 10, 11.0, 13, 2, 2.3, 3, 0.5),
            ('GLM-4.6', 'lite', 'T1', false, 2, 7, 7.0, 7, 1, 1.0, 1, null)
        ) as t(teacher, scale, rollout, is_total, n_rows, min_messages, avg_messages, max_messages,
               min_tool_calls, avg_tool_calls, max_tool_calls, avg_line_level_recall);
        create table export_filters as select cast(null as varchar) as filters, cast(null as integer) as max_tokens;
        create table flag_summary as select * from (values
            (null, null, 'duplicate', 2, false, 'a later copy', true, 1::bigint),
            ('Sera-4.6-Lite-T2', 4, 'duplicate', 2, false, 'a later copy', false, 1::bigint),
            ('my_runs', 5, 'duplicate', 2, false, 'a later copy', false, 0::bigint),
            ('my_runs', 5, 'benchmark_repo', 0, true, 'a benchmark repository', false, 0::bigint),
            (null, null, 'benchmark_repo', 0, true, 'a benchmark repository', true, 0::bigint),
            ('Sera-4.6-Lite-T2', 4, 'benchmark_repo', 0, true, 'a benchmark repository', false, 0::bigint)
        ) as t(source_dataset, dataset_order, flag, flag_position, needs_benchmark, meaning, is_total, n_rows),
        (select cast(null as varchar) as benchmark, 0::bigint as n_benchmark_tasks);
        """
    )
    create_token_tables(connection, tokenizer=None)
    yield connection
    connection.close()


def create_token_tables(connection: duckdb.DuckDBPyConnection, tokenizer: str | None) -> None:
    """stg_training__tokenizer, token_summary and token_histogram as the dbt models make them: with a
    tokenizer, two datasets whose counts the budget partly drops; without one, null counts."""
    counted = tokenizer is not None
    connection.execute(
        """
        create or replace table stg_training__tokenizer as
        select ?::varchar as tokenizer, null::varchar as chat_template, ?::varchar as fingerprint, ?::varchar as description,
               'cache'::varchar as token_cache_dir
        """,
        [tokenizer, "0123456789abcdef" if counted else None, tokenizer],
    )
    connection.execute(
        """
        create or replace table token_summary as select * from (values
            ('Sera-4.6-Lite-T2', false, 3, ?, ?, ?, ?, ?, ?, 2::bigint, 1::bigint),
            (null, true, 5, ?, ?, ?, ?, ?, ?, 4::bigint, 1::bigint),
            ('my_runs', false, 2, ?, 0::bigint, ?, ?, ?, ?, 2::bigint, 0::bigint)
        ) as t(source_dataset, is_total, n_rows, n_counted, n_not_rendered, min_tokens, median_tokens, p90_tokens,
               max_tokens, n_within_budget, n_over_budget)
        """,
        [2, 1, 900, 900, 900, 900] + [4, 1, 100, 300, 900, 900] + [2, 100, 100, 300, 300]
        if counted
        else [0, 0, None, None, None, None] + [0, 0, None, None, None, None] + [0, None, None, None, None],
    )
    connection.execute(
        "create or replace table token_histogram as select * from (values (1, 120, 140, 2), (0, 100, 120, 2), (39, 880, 900, 1)) "
        "as t(bin, bin_start, bin_end, n_rows)" + ("" if counted else " where false")
    )


def test_card_numbers_read_the_tables(small_db: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    numbers = card.card_numbers(
        small_db,
        {name: name for name in card.RELATIONS},
        card_path=str(tmp_path / "README.md"),
        export_path=str(tmp_path / "x.parquet"),
        export_rows=5,
        sft_path=str(tmp_path / "x_sft.parquet"),
        sft_rows=5,
    )
    assert numbers["export_file"] == "x.parquet" and numbers["sft_file"] == "x_sft.parquet"
    assert [s["source_dataset"] for s in numbers["sources"]] == ["Sera-4.6-Lite-T2", "my_runs"]  # dataset order
    assert numbers["sources"][0]["rows_read"] == 5 and isinstance(numbers["sources"][0]["rows_read"], int)
    assert [d["rollout"] for d in numbers["distribution"]] == ["T1", "T2"]
    assert numbers["total"]["n_rows"] == 5 and float(numbers["total"]["avg_messages"]) == 9.4
    assert numbers["rejects"] == [{"reason": "not_submitted", "n_rows": 2, "meaning": "the last tool call is not a submit"}]
    header, body = split_card(card.render_card(numbers))
    assert header["source_datasets"] == ["allenai/Sera-4.6-Lite-T2"]
    assert "| `my_runs` | 2 | 2 | 0 | GLM-4.6 | lite | T1 |" in body
    assert "Trajectories range from 7 to 13 turns (avg 9.4), with 1–3 tool calls per row (avg 1.8)." in body
    assert numbers["flags"] == {
        "datasets": ["Sera-4.6-Lite-T2", "my_runs"],  # dataset order; codes in flag order
        "codes": [
            {"flag": "benchmark_repo", "meaning": "a benchmark repository", "needs_benchmark": True, "counts": [0, 0], "total": 0},
            {"flag": "duplicate", "meaning": "a later copy", "needs_benchmark": False, "counts": [1, 0], "total": 1},
        ],
        "benchmark": None,
        "n_benchmark_tasks": 0,
    }
    assert markdown_rows(body, "## Flags") == [
        "| Flag | `Sera-4.6-Lite-T2` | `my_runs` | All | Meaning |",
        "|---|---|---|---|---|",
        "| `benchmark_repo` | — | — | — | a benchmark repository |",
        "| `duplicate` | 1 | 0 | 1 | a later copy |",
    ]
    assert "No benchmark was given, so `benchmark_repo` and `benchmark_text` were not checked (—)." in body


def test_the_flag_counts_of_a_build_with_a_benchmark() -> None:
    _, body = split_card(card.render_card(published_numbers()))
    assert markdown_rows(body, "## Flags")[2:] == [
        "| `benchmark_text` | 0 | 0 | 2 | 1 | 3 | shares a 13-word sequence |",
        "| `duplicate` | 12 | 0 | 0 | 0 | 12 | a later copy |",
    ]
    assert "Benchmark overlap was checked against `princeton-nlp/SWE-bench_Verified` (500 tasks)" in body


SECTIONS = [
    "# SERA — Consolidated & Rectified",
    "## Origin",
    "## Files",
    "## Format",
    "### Message Roles",
    "### Trajectory Structure",
    "### SFT-ready variant (`sft` config)",
    "## Schema",
    "## Data Distribution",
    "### Trajectory statistics",
    "## Tools",
    "## Conversion Details",
    "## Flags",
    "## Filtering Guide",
    "## Usage",
    "## License",
    "## Citation",
]


def headings(body: str) -> list[str]:
    """The Markdown headings of the card, in order (not the `# comments` inside code blocks)."""
    found, fenced = [], False
    for line in body.splitlines():
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            found.append(line)
    return found


def markdown_rows(body: str, heading: str) -> list[str]:
    """The lines of the first table after `heading`."""
    lines = body.split("\n" + heading + "\n", 1)[1].splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    end = next((index for index in range(start, len(lines)) if not lines[index].startswith("|")), len(lines))
    return lines[start:end]


def test_template_renders_every_section_of_a_filtered_card_with_rejects() -> None:
    numbers = published_numbers(export_rows=25000, filters="rollout = 'T2'")
    numbers["rejects"].append({"reason": "not_submitted", "n_rows": 1, "meaning": None})
    text = card.render_card(numbers)
    header, body = split_card(text)
    assert headings(body) == SECTIONS
    assert header["size_categories"] == ["10K<n<100K"]  # the export's rows, not the build's
    intro = body.split("## Origin", 1)[0]
    assert "> **Subset.** `sera_rectified.parquet` holds 25,000 of the 211,360 trajectories" in intro
    assert markdown_rows(body, "## Conversion Details") == [
        "| Reason | Rows | Meaning |",
        "|---|---|---|",
        "| `missing_tool_output` | 3 | an assistant tool call not followed by a tool message |",
        "| `not_submitted` | 1 |  |",
    ]
    assert "| `default` | `sera_rectified.parquet` | strict reasoning / tool-call format (below) | 25,000 |" in body
    # the template's Markdown line break (two trailing spaces) and a single final newline
    assert "(https://arxiv.org/abs/2601.20789)  \n🔗 **Code:**" in body
    assert text.endswith("}\n```\n") and not text.endswith("\n\n")


def test_template_without_sft_or_rejects_drops_those_parts() -> None:
    _, body = split_card(card.render_card(published_numbers(sft_file=None, sft_rows=None, rejects=[])))
    assert headings(body) == [s for s in SECTIONS if "SFT" not in s]
    assert "\n\nNo source row was rejected.\n\n## Flags" in body
    assert "Subset" not in body and "| `sft` |" not in body


def test_card_of_a_subset_build_with_rejects(small_db: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """From the marts to the text: a build whose export holds 3 of 5 rows, 2 source rows rejected."""
    numbers = card.card_numbers(
        small_db,
        {name: name for name in card.RELATIONS},
        card_path=str(tmp_path / "README.md"),
        export_path=str(tmp_path / "x.parquet"),
        export_rows=3,
        filters="rollout = 'T2'",
    )
    _, body = split_card(card.render_card(numbers))
    assert headings(body) == [s for s in SECTIONS if "SFT" not in s]
    assert "> **Subset.** `x.parquet` holds 3 of the 5 trajectories the build converted (filters: `rollout = 'T2'`)." in body
    assert "from 2 source datasets into" in body
    assert (
        "**71.429% conversion rate** (5 / 7 source rows). Every source row is either in the output or rejected with a reason (2 rejected):"
        in body
    )
    assert markdown_rows(body, "## Conversion Details")[2:] == ["| `not_submitted` | 2 | the last tool call is not a submit |"]
    assert markdown_rows(body, "### Trajectory statistics")[2:] == [
        "| GLM-4.6 | lite | T1 | 7 | 7.0 | 7 | 1 | 1.0 | 1 | — |",
        "| GLM-4.6 | lite | T2 | 10 | 11.0 | 13 | 2 | 2.3 | 3 | 0.5000 |",
        "| **All** |  |  | 7 | 9.4 | 13 | 1 | 1.8 | 3 | 0.5000 |",
    ]


def test_card_of_a_build_with_a_tokenizer_and_a_budget(small_db: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    """The token section: the tokenizer, the budget, the distribution and kept / dropped rows per dataset,
    and the histogram picture written beside the card and shown in it."""
    create_token_tables(small_db, tokenizer="Qwen/Qwen3-8B")
    small_db.execute("create or replace table export_filters as select 'n_tokens <= 800' as filters, 800 as max_tokens")
    manifest = card.write_build_card(
        small_db, {name: name for name in card.RELATIONS}, export_path=str(tmp_path / "x.parquet"), export_rows=4, filters="n_tokens <= 800"
    )
    _, body = split_card(Path(manifest["card_path"]).read_text(encoding="utf-8"))
    assert "## Tokens" in headings(body)
    assert "Every row was counted with **Qwen/Qwen3-8B**" in body and "fingerprint `0123456789abcdef`" in body
    assert "Both files keep only rows of at most **800 tokens**." in body
    assert markdown_rows(body, "## Tokens")[2:] == [
        "| `Sera-4.6-Lite-T2` | 3 | 2 | 1 | 900 | 900 | 900 | 900 | 2 | 1 |",
        "| `my_runs` | 2 | 2 | 0 | 100 | 100 | 300 | 300 | 2 | 0 |",
        "| **All** | 5 | 4 | 1 | 100 | 300 | 900 | 900 | 4 | 1 |",
    ]
    picture = tmp_path / card.HISTOGRAM_NAME
    assert f"![tokens per row]({card.HISTOGRAM_NAME})" in body
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_card_without_a_tokenizer_has_no_token_section_and_no_picture(small_db: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    manifest = card.write_build_card(
        small_db, {name: name for name in card.RELATIONS}, export_path=str(tmp_path / "x.parquet"), export_rows=5
    )
    _, body = split_card(Path(manifest["card_path"]).read_text(encoding="utf-8"))
    assert "## Tokens" not in headings(body)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["README.md"]


def test_template_is_package_data() -> None:
    assert resources.files("sera_rectify").joinpath("templates", card.TEMPLATE).is_file()


def test_write_card_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out" / "README.md"
    target.parent.mkdir()
    target.write_text("old")
    (tmp_path / "out" / "README.md.tmp-99").write_text("half")
    manifest = card.write_card("new card\n", target)
    assert target.read_text() == "new card\n"
    assert manifest == {"card_path": str(target), "n_bytes": 9}
    assert sorted(p.name for p in target.parent.iterdir()) == ["README.md"]


def test_command_needs_a_built_export(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    parser = argparse.ArgumentParser()
    card.add_arguments(parser)
    args = parser.parse_args(["--db", str(tmp_path / "none.duckdb"), "--export", str(tmp_path / "none.parquet")])
    assert card.run(args) == 2
    assert "no export" in capsys.readouterr().out
    assert not (tmp_path / "README.md").exists()

"""What `dbt build` puts beside the main export: the SFT-ready Parquet and the dataset card (README.md).

One build of the embedded sample in a temporary directory (conftest.sample_build), checked from
outside: the files, their columns and rows, and the card's numbers against dataset_summary.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml
from dbt_runs import query

from sera_rectify import card

pytestmark = pytest.mark.integration

SFT_COLUMNS = [
    "messages",
    "tools",
    "instance_id",
    "teacher",
    "scale",
    "rollout",
    "func_name",
    "func_path",
    "line_level_recall",
    "source_dataset",
    "n_tokens",
    "flags",
]


@pytest.fixture
def build(sample_build: Path) -> Path:
    """The shared build of the sample (tests/integration/conftest.py)."""
    return sample_build


def card_sections(text: str) -> tuple[dict, str]:
    assert text.startswith("---\n")
    header, body = text[4:].split("\n---\n", 1)
    return yaml.safe_load(header), body


def markdown_table(body: str, heading: str) -> list[list[str]]:
    """The rows (cells stripped) of the first table after `heading`."""
    lines = body.split("\n" + heading + "\n", 1)[1].splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith("|"))
    end = next((index for index in range(start, len(lines)) if not lines[index].startswith("|")), len(lines))
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[start + 2 : end]]


def test_sft_export_and_card_sit_beside_the_export(build: Path) -> None:
    output = build / "output"
    assert sorted(path.name for path in output.iterdir()) == ["README.md", "sera_rectified.parquet", "sera_rectified_sft.parquet"]


def test_sft_export_has_the_columns_and_rows_of_the_export(build: Path) -> None:
    main = pq.read_table(build / "output" / "sera_rectified.parquet")
    sft = pq.read_table(build / "output" / "sera_rectified_sft.parquet")
    assert sft.column_names == SFT_COLUMNS
    assert all(field.nullable for field in sft.schema)
    assert sft.num_rows == main.num_rows > 0
    for name in SFT_COLUMNS[2:-3]:
        assert sft.column(name).to_pylist() == main.column(name).to_pylist(), name
    assert set(sft.column("source_dataset").to_pylist()) == {"Sera-4.5A-Full-T1", "Sera-4.5A-Full-T2", "Sera-4.6-Lite-T1", "Sera-4.6-Lite-T2"}
    assert sft.column("n_tokens").null_count == sft.num_rows  # no tokenizer in this build
    assert sft.column("flags").to_pylist() == [[]] * sft.num_rows  # no sample row is flagged (docs/flags.md)
    metadata = pq.ParquetFile(build / "output" / "sera_rectified_sft.parquet").metadata
    assert {metadata.row_group(g).column(c).compression for g in range(metadata.num_row_groups) for c in range(metadata.num_columns)} == {
        "ZSTD"
    }
    # every row is a chat list whose tool calls pair with tool messages
    n_tool_calls = [
        row[0] for row in query(build, "select n_tool_calls from sera_rectified order by dataset_order, source_file, source_row")
    ]
    for text, tools, expected_calls in zip(sft.column("messages").to_pylist(), sft.column("tools").to_pylist(), n_tool_calls, strict=True):
        messages = json.loads(text)
        calls = [call for m in messages if m["role"] == "assistant" for call in m.get("tool_calls", [])]
        assert len(calls) == expected_calls
        assert [m["tool_call_id"] for m in messages if m["role"] == "tool"] == [call["id"] for call in calls]
        assert [tool["function"]["name"] for tool in json.loads(tools)] == ["bash", "str_replace_editor", "submit"]
    assert query(build, "select n_rows, filters from sera_rectified_sft_export") == [(main.num_rows, None)]


def test_card_header_points_at_the_files(build: Path) -> None:
    header, _ = card_sections((build / "output" / "README.md").read_text(encoding="utf-8"))
    assert header["license"] == "odc-by"
    assert header["size_categories"] == ["n<1K"]
    paths = {config["config_name"]: config["data_files"][0]["path"] for config in header["configs"]}
    assert paths == {"default": "sera_rectified.parquet", "sft": "sera_rectified_sft.parquet"}
    assert all((build / "output" / path).is_file() for path in paths.values())


def test_card_numbers_match_dataset_summary(build: Path) -> None:
    _, body = card_sections((build / "output" / "README.md").read_text(encoding="utf-8"))
    summary = query(
        build,
        "select teacher, scale, rollout, n_rows, min_messages, avg_messages, max_messages, "
        "min_tool_calls, avg_tool_calls, max_tool_calls from dataset_summary where not is_total order by teacher, scale, rollout",
    )
    (total,) = query(
        build,
        "select n_rows, min_messages, avg_messages, max_messages, min_tool_calls, avg_tool_calls, max_tool_calls "
        "from dataset_summary where is_total",
    )
    distribution = markdown_table(body, "## Data Distribution")
    assert distribution[:-1] == [[t, s, r, f"{n:,}"] for t, s, r, n, *_ in summary]
    assert distribution[-1] == ["**Total**", "", "", f"**{total[0]:,}**"]
    stats = markdown_table(body, "### Trajectory statistics")
    expected = [[t, s, r, str(a), f"{b:.1f}", str(c), str(d), f"{e:.1f}", str(f)] for t, s, r, _, a, b, c, d, e, f in summary]
    assert [row[:9] for row in stats[:-1]] == expected
    assert stats[-1][3:9] == [str(total[1]), f"{total[2]:.1f}", str(total[3]), str(total[4]), f"{total[5]:.1f}", str(total[6])]
    assert (
        f"Trajectories range from {total[1]} to {total[3]} turns (avg {total[2]:.1f}), "
        f"with {total[4]}–{total[6]} tool calls per row (avg {total[5]:.1f})." in body
    )
    assert f"{total[0]:,} multi-turn SWE-agent coding trajectories" in body


def test_card_origin_and_rejects_match_the_tables(build: Path) -> None:
    _, body = card_sections((build / "output" / "README.md").read_text(encoding="utf-8"))
    reconciliation = query(build, "select source_dataset, rows_read, rows_out, rows_rejected from source_reconciliation")
    origin = {re.search(r"allenai/([^\]]+)\]", row[0]).group(1): row[1:4] for row in markdown_table(body, "## Origin")}
    assert origin == {dataset: [f"{read:,}", f"{out:,}", f"{rejected:,}"] for dataset, read, out, rejected in reconciliation}
    rejects = dict(query(build, "select reason, count(*) from sera_rectified_rejects group by reason"))
    table = markdown_table(body, "## Conversion Details")
    assert {row[0].strip("`"): int(row[1].replace(",", "")) for row in table} == rejects


def test_card_command_renders_the_same_card(build: Path) -> None:
    """`python -m sera_rectify card` and the dbt model share the renderer: same database, same text."""
    readme = build / "output" / "README.md"
    from_build = readme.read_bytes()
    readme.unlink()
    parser = argparse.ArgumentParser()
    card.add_arguments(parser)
    args = parser.parse_args(["--db", str(build / "sera.duckdb"), "--export", str(build / "output" / "sera_rectified.parquet")])
    assert card.run(args) == 0
    assert readme.read_bytes() == from_build

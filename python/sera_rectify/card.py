"""The Hugging Face dataset card (README.md) written next to the export, from the numbers of the build.

`python -m sera_rectify card --db sera.duckdb --export output/sera_rectified.parquet --out output/README.md`
writes it from a built database; the dbt model sera_rectified_card writes it during `dbt build`. Both
go through the same three steps:

    card_numbers(connection, relations, ...)  -> a small dict of numbers (DuckDB queries, read only)
    render_card(numbers)                      -> the card text (pure: unit-tested from a dict)
    write_card(text, path)                    -> temporary file beside the target, then renamed

The sections follow the public card this project rebuilds (shared/seed/dataset-card.md); every count in
it comes from the build's tables (dataset_summary, source_reconciliation, sera_rectified_rejects), none
is typed in here.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
import yaml

from .export import EXPORT_COLUMNS, atomic_file
from .sft import SFT_COLUMNS, default_sft_path
from .spec import reasoning_templates, tool_schemas

CARD_NAME = "README.md"
TITLE = "SERA — Consolidated & Rectified"
# the tables the numbers come from; the dbt model passes each as a subquery of its ref()
RELATIONS = ("dataset_summary", "source_reconciliation", "sera_rectified_rejects", "stg_sera__datasets", "reject_reasons")

# Hugging Face's size_categories buckets (the Hub's dataset card metadata), by upper bound
SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
TAGS = ["code", "agent", "swe-agent", "tool-use", "reasoning", "software-engineering", "sft"]

# spec/output.md's columns, as the card describes them
COLUMN_DOCS = {
    "messages": ("string", "Converted trajectory (JSON list of `{role, content}`)"),
    "instance_id": ("string", "Original trajectory ID"),
    "teacher": ("string", "Teacher model: `GLM-4.5-Air` or `GLM-4.6`"),
    "scale": ("string", "Generation scale: `full` (3 runs/function) or `lite` (1 run/function)"),
    "rollout": ("string", "SVG stage: `T1` (initial change) or `T2` (reproduce from PR)"),
    "func_name": ("string", "Function sampled from codebase to start the pipeline"),
    "func_path": ("string", "File path to the sampled function"),
    "line_level_recall": ("float64", "Soft verification score (T2 only, null for T1)"),
}
SFT_COLUMN_DOCS = COLUMN_DOCS | {
    "messages": ("string", "The trajectory as OpenAI chat messages (JSON list; see above)"),
    "tools": ("string", "The tool schemas (JSON list, OpenAI `tools` format), for `apply_chat_template(..., tools=...)`"),
}
ROLE_DOCS = (
    ("system", "Tool-use protocol + JSON tool schemas + SWE-agent instructions"),
    ("user", "Repository description + PR description + task instructions"),
    ("reasoning", "`<think>…</think>` — model's step-by-step reasoning (native, not synthesized)"),
    ("tool_call", '`<tool_call>{"name": "...", "arguments": {...}}</tool_call>` — function invocation'),
    ("tool_output", "`<tool_response>…</tool_response>` — tool execution result"),
    ("answer", "`<answer>…</answer>` — final submission"),
)
TOOL_DOCS = {
    "str_replace_editor": "file viewer/editor (view, create, str_replace, insert, undo_edit)",
    "bash": "terminal command execution",
    "submit": "solution submission (the final one becomes the `answer`)",
}
CITATION = """@misc{shen2026sera,
  title={SERA: Soft-Verified Efficient Repository Agents},
  author={Ethan Shen and Danny Tormoen and Saurabh Shah and Ali Farhadi and Tim Dettmers},
  year={2026},
  eprint={2601.20789},
  archivePrefix={arXiv},
  primaryClass={cs.CL},
  url={https://arxiv.org/abs/2601.20789},
}"""


# ---------------------------------------------------------------------------------------------
# numbers (DuckDB, read only)


def size_category(n_rows: int) -> str:
    """The Hub's size_categories value for a file of n_rows rows."""
    for bound, label in SIZE_CATEGORIES:
        if n_rows < bound:
            return label
    return "n>1B"


def relative_file(path: str | Path, card_path: str | Path) -> str:
    """How the card names a data file (a Hub `configs` path): relative to the card's folder, the root
    of the Hub repository. A file outside that folder (a Hub repository cannot point above its root)
    is named by its file name: it is uploaded beside the card."""
    relative = Path(os.path.relpath(Path(path).resolve(), Path(card_path).resolve().parent))
    return Path(path).name if relative.parts[:1] == ("..",) else relative.as_posix()


def _records(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cursor = connection.execute(sql)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _plain(value: Any) -> Any:
    """A DECIMAL (a sum or average over an integer column) as a float, so the numbers dict is plain data."""
    return float(value) if isinstance(value, Decimal) else value


def card_numbers(
    connection: duckdb.DuckDBPyConnection,
    relations: Mapping[str, str],
    *,
    card_path: str,
    export_path: str,
    export_rows: int,
    filters: str | None = None,
    sft_path: str | None = None,
    sft_rows: int | None = None,
) -> dict[str, Any]:
    """Everything the card quotes, read from the build's tables. `relations` maps each name of
    RELATIONS to something a FROM clause takes (a table name, or a parenthesised subquery)."""
    r = {name: relations[name] for name in RELATIONS}
    sources = _records(
        connection,
        f"""
        select
            reconciliation.source_dataset,
            datasets.hub_repo_id,
            datasets.teacher,
            datasets.scale,
            datasets.rollout,
            reconciliation.rows_read,
            reconciliation.rows_out,
            reconciliation.rows_rejected
        from {r["source_reconciliation"]} as reconciliation
        inner join {r["stg_sera__datasets"]} as datasets
            on reconciliation.source_dataset = datasets.source_dataset
        order by datasets.dataset_order
        """,
    )
    summary = _records(
        connection,
        f"""
        select
            teacher, scale, rollout, is_total, n_rows,
            min_messages, avg_messages, max_messages,
            min_tool_calls, avg_tool_calls, max_tool_calls,
            avg_line_level_recall
        from {r["dataset_summary"]}
        order by is_total, teacher, scale, rollout
        """,
    )
    rejects = _records(
        connection,
        f"""
        select
            rejects.reason,
            count(*) as n_rows,
            any_value(reasons.meaning) as meaning
        from {r["sera_rectified_rejects"]} as rejects
        left join {r["reject_reasons"]} as reasons
            on rejects.reason = reasons.reason
        group by rejects.reason
        order by n_rows desc, rejects.reason
        """,
    )
    plain = lambda rows: [{key: _plain(value) for key, value in row.items()} for row in rows]  # noqa: E731
    summary = plain(summary)
    totals = [row for row in summary if row["is_total"]]
    return {
        "export_file": relative_file(export_path, card_path),
        "export_rows": int(export_rows),
        "filters": filters or None,
        "sft_file": relative_file(sft_path, card_path) if sft_path else None,
        "sft_rows": None if sft_rows is None else int(sft_rows),
        "sources": plain(sources),
        "distribution": [row for row in summary if not row["is_total"]],
        "total": totals[0] if totals else {"n_rows": 0},
        "rejects": plain(rejects),
    }


# ---------------------------------------------------------------------------------------------
# rendering (pure)


def fmt_int(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def fmt_avg(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f}"


def fmt_recall(value: Any) -> str:
    return "—" if value is None else f"{float(value):.4f}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def yaml_header(numbers: dict[str, Any]) -> dict[str, Any]:
    """The card's metadata block: what the Hub reads for license, search facets and the viewer."""
    export_file = numbers["export_file"]
    configs = [{"config_name": "default", "data_files": [{"split": "train", "path": export_file}]}]
    if numbers.get("sft_file"):
        configs.append({"config_name": "sft", "data_files": [{"split": "train", "path": numbers["sft_file"]}]})
    header = {
        "license": "odc-by",
        "language": ["en"],
        "pretty_name": TITLE,
        "task_categories": ["text-generation"],
        "tags": list(TAGS),
        "size_categories": [size_category(numbers["export_rows"])],
        "source_datasets": [s["hub_repo_id"] for s in numbers["sources"] if s.get("hub_repo_id")],
        "configs": configs,
    }
    if not header["source_datasets"]:
        del header["source_datasets"]
    return header


def source_name(source: dict[str, Any]) -> str:
    repo = source.get("hub_repo_id")
    return f"[{repo}](https://huggingface.co/datasets/{repo})" if repo else f"`{source['source_dataset']}`"


def stats_sentence(total: dict[str, Any]) -> str:
    if not total.get("n_rows"):
        return "The build converted no trajectory."
    return (
        f"Trajectories range from {fmt_int(total['min_messages'])} to {fmt_int(total['max_messages'])} turns "
        f"(avg {fmt_avg(total['avg_messages'])}), with {fmt_int(total['min_tool_calls'])}–{fmt_int(total['max_tool_calls'])} "
        f"tool calls per row (avg {fmt_avg(total['avg_tool_calls'])})."
    )


def render_card(numbers: dict[str, Any]) -> str:
    """The README.md text: YAML header, then the sections of the public card, filled from `numbers`
    (the dict card_numbers returns)."""
    total = numbers["total"]
    total_rows = int(total.get("n_rows") or 0)
    sources = numbers["sources"]
    rows_read = sum(int(s["rows_read"] or 0) for s in sources)
    rows_out = sum(int(s["rows_out"] or 0) for s in sources)
    rows_rejected = sum(int(s["rows_rejected"] or 0) for s in sources)
    export_file = numbers["export_file"]
    sft_file = numbers.get("sft_file")
    subset = bool(numbers.get("filters")) or numbers["export_rows"] != total_rows

    out: list[str] = ["---", yaml.safe_dump(yaml_header(numbers), sort_keys=False, allow_unicode=True, width=1000).rstrip(), "---", ""]
    out += [
        f"# {TITLE}",
        "",
        f"{total_rows:,} multi-turn SWE-agent coding trajectories from the SERA (Soft-Verified Efficient Repository Agents) "
        f"project, consolidated from {len(sources)} source dataset{'s' if len(sources) != 1 else ''} into a single file "
        "with a strict reasoning + tool-call format and validated role sequences"
        + (", plus the same rows in OpenAI chat format, ready for supervised fine-tuning." if sft_file else "."),
        "",
    ]
    if subset:
        condition = f" (filters: `{numbers['filters']}`)" if numbers.get("filters") else ""
        out += [
            f"> **Subset.** `{export_file}` holds {numbers['export_rows']:,} of the {total_rows:,} trajectories the build "
            f"converted{condition}. The tables below describe the whole build.",
            "",
        ]

    out += ["## Origin", "", "Derived from Allen AI's Open Coding Agents release:", ""]
    out.append(
        table(
            ["Source Dataset", "Rows read", "Converted", "Rejected", "Teacher", "Scale", "Rollout"],
            [
                [
                    source_name(s),
                    fmt_int(s["rows_read"]),
                    fmt_int(s["rows_out"]),
                    fmt_int(s["rows_rejected"]),
                    s["teacher"] or "—",
                    s["scale"] or "—",
                    s["rollout"] or "—",
                ]
                for s in sources
            ],
        )
    )
    out += [
        "",
        "SERA uses **Soft Verified Generation (SVG)**, a two-rollout pipeline where a teacher model first makes a change to "
        "a codebase (T1), then attempts to reproduce that change from only a PR description (T2). Patches are compared "
        "using line-level recall for quality scoring — no test execution required.",
        "",
        "📄 **Paper:** [SERA: Soft-Verified Efficient Repository Agents](https://arxiv.org/abs/2601.20789)  ",
        "🔗 **Code:** [github.com/allenai/SERA](https://github.com/allenai/SERA)",
        "",
        "## Files",
        "",
    ]
    files = [["`default`", f"`{export_file}`", "strict reasoning / tool-call format (below)", fmt_int(numbers["export_rows"])]]
    if sft_file:
        files.append(["`sft`", f"`{sft_file}`", "OpenAI chat format with `tools`, for SFT", fmt_int(numbers.get("sft_rows"))])
    out += [table(["Config", "File", "Format", "Rows"], files), ""]

    out += [
        "## Format",
        "",
        "Each row contains a structured multi-turn coding agent trajectory with native reasoning traces and validated tool calls.",
        "",
    ]
    out += ["### Message Roles", "", table(["Role", "Content"], [[f"`{role}`", doc] for role, doc in ROLE_DOCS]), ""]
    out += [
        "### Trajectory Structure",
        "",
        "```",
        "system → user → reasoning → [tool_call → tool_output → reasoning →]* answer",
        "```",
        "",
        stats_sentence(total),
        "",
    ]
    if sft_file:
        out += [
            "### SFT-ready variant (`sft` config)",
            "",
            f"`{sft_file}` holds the same rows in the same order, with `messages` in OpenAI chat format: `system` and "
            "`user` as above; each reasoning + tool call becomes one `assistant` message with `reasoning_content` (the "
            'think text), `content: ""` and `tool_calls: [{"id": "call_<n>", "type": "function", "function": {"name", '
            '"arguments": <JSON string>}}]`; each tool output a `tool` message with `tool_call_id`; the final reasoning + '
            "answer an `assistant` message with `reasoning_content` and the answer as `content`. The `tools` column holds "
            "the tool schemas, so chat templates that support tools and reasoning (e.g. Qwen3's) render a row directly:",
            "",
            "```python",
            "import json",
            'messages, tools = json.loads(row["messages"]), json.loads(row["tools"])',
            "text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)",
            "```",
            "",
        ]

    out += ["## Schema", "", "Parquet with zstd compression; every column nullable.", ""]
    out += [table(["Column", "Type", "Description"], [[f"`{name}`", *COLUMN_DOCS[name]] for name in EXPORT_COLUMNS]), ""]
    if sft_file:
        out += [
            f"`{sft_file}`:",
            "",
            table(["Column", "Type", "Description"], [[f"`{name}`", *SFT_COLUMN_DOCS[name]] for name in SFT_COLUMNS]),
            "",
        ]

    distribution = numbers["distribution"]
    out += ["## Data Distribution", ""]
    out.append(
        table(
            ["Teacher", "Scale", "Rollout", "Rows"],
            [[d["teacher"] or "—", d["scale"] or "—", d["rollout"] or "—", fmt_int(d["n_rows"])] for d in distribution]
            + [["**Total**", "", "", f"**{total_rows:,}**"]],
        )
    )
    out += ["", "### Trajectory statistics", ""]
    out.append(
        table(
            [
                "Teacher",
                "Scale",
                "Rollout",
                "Turns min",
                "Turns avg",
                "Turns max",
                "Tool calls min",
                "Tool calls avg",
                "Tool calls max",
                "Mean line-level recall",
            ],
            [
                [
                    d.get("teacher") or ("**All**" if d is total else "—"),
                    d.get("scale") or "",
                    d.get("rollout") or "",
                    fmt_int(d.get("min_messages")),
                    fmt_avg(d.get("avg_messages")),
                    fmt_int(d.get("max_messages")),
                    fmt_int(d.get("min_tool_calls")),
                    fmt_avg(d.get("avg_tool_calls")),
                    fmt_int(d.get("max_tool_calls")),
                    fmt_recall(d.get("avg_line_level_recall")),
                ]
                for d in [*distribution, total]
            ],
        )
    )
    out += ["", "## Tools", "", f"{len(tool_schemas())} SWE-agent tools available in every trajectory:", ""]
    out += [
        f"- **{name}** — {TOOL_DOCS.get(name, 'see the schema in the system message')}"
        for name in (t["function"]["name"] for t in tool_schemas())
    ]

    rate = f"{100 * rows_out / rows_read:.3f}%" if rows_read else "—"
    out += [
        "",
        "## Conversion Details",
        "",
        "- **Native reasoning preserved**: the `thought` field of assistant messages (its `<think>…</think>` blocks and "
        "the commentary after them) is the reasoning; no duplication from `content`, which holds the same text.",
        '- **OpenAI-style `tool_calls`** with JSON-string arguments parsed into the canonical `{"name", "arguments": dict}` format.',
        "- **Submit**: the first submit of the trailing run of submits becomes `reasoning → answer` (the answer is the "
        "rollout's patch); the later duplicate submits are trimmed. A submit followed by more tool calls (review, then "
        "clean-up) stays an ordinary tool_call / tool_output cycle, so the steps after it still make sense.",
        "- **Mid-trajectory text responses** (no tool call) are folded into the next reasoning, keeping the role sequence valid.",
        f"- **Empty reasoning** filled from a pool of {len(reasoning_templates())} template variations, chosen by a stable hash.",
        f"- **{rate} conversion rate** ({rows_out:,} / {rows_read:,} source rows). Every source row is either in the "
        f"output or rejected with a reason ({rows_rejected:,} rejected):",
        "",
    ]
    if numbers["rejects"]:
        out.append(
            table(
                ["Reason", "Rows", "Meaning"],
                [[f"`{r['reason']}`", fmt_int(r["n_rows"]), r.get("meaning") or ""] for r in numbers["rejects"]],
            )
        )
    else:
        out.append("No source row was rejected.")

    out += [
        "",
        "## Filtering Guide",
        "",
        "The metadata columns enable targeted filtering:",
        "",
        "```python",
        "import pyarrow.compute as pc",
        "import pyarrow.parquet as pq",
        f't = pq.read_table("{export_file}")',
        "# Only T2 trajectories (what SERA-32B was trained on)",
        't2 = t.filter(pc.field("rollout") == "T2")',
        "# Only high-quality verified trajectories",
        'verified = t.filter(pc.field("line_level_recall") > 0.75)',
        "# Only GLM-4.6 teacher (stronger model)",
        'glm46 = t.filter(pc.field("teacher") == "GLM-4.6")',
        "```",
        "",
        "## Usage",
        "",
        "```python",
        "import json",
        "from datasets import load_dataset",
        "",
        f'ds = load_dataset("parquet", data_files="{export_file}", split="train")  # or load_dataset("<this repo>")',
        "row = ds[0]",
        'msgs = json.loads(row["messages"])',
        'print(row["teacher"], row["scale"], row["rollout"], row["instance_id"], len(msgs), "turns")',
        'print(" -> ".join(m["role"] for m in msgs[:20]))',
        "```",
        "",
        "## License",
        "",
        "This dataset is licensed under the **Open Data Commons Attribution License v1.0 (ODC-By)**, consistent with the "
        "source datasets. It is intended for research and educational use and may be used commercially with attribution.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# the file and the command (side effects)


def card_path_for(export_path: str | Path) -> Path:
    """Where the card goes: README.md in the export's folder (the root of the Hub repository)."""
    return Path(export_path).with_name(CARD_NAME)


def write_card(text: str, path: str | Path) -> dict[str, Any]:
    """Write the card to a temporary file beside `path`, then rename it (never a half-written card)."""
    target = Path(path)
    with atomic_file(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return {"card_path": str(target), "n_bytes": target.stat().st_size}


def parquet_rows(path: str | Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


def manifest_filters(connection: duckdb.DuckDBPyConnection, export_path: Path) -> str | None:
    """The filters the build applied to this export, from the sera_rectified_export manifest (None when
    the database has no manifest for this file)."""
    try:
        manifests = connection.execute("select export_path, filters from sera_rectified_export").fetchall()
    except duckdb.Error:
        return None
    for path, filters in manifests:
        if Path(path).resolve() == export_path.resolve():
            return filters
    return None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", default=os.environ.get("SERA_DB", "sera.duckdb"), help="the built DuckDB database (default: $SERA_DB or sera.duckdb)"
    )
    parser.add_argument("--export", default="output/sera_rectified.parquet", help="the main export the card describes")
    parser.add_argument("--sft", default=None, help="the SFT export (default: <export>_sft.parquet beside it, when present)")
    parser.add_argument("--out", default=None, help="where to write the card (default: README.md beside --export)")


def run(args: argparse.Namespace) -> int:
    export = Path(args.export)
    if not export.is_file():
        print(f"error: no export at {export} (run `dbt build` first)")
        return 2
    if not Path(args.db).is_file():
        print(f"error: no database at {args.db}")
        return 2
    sft = Path(args.sft) if args.sft else Path(default_sft_path(str(export)))
    if not sft.is_file():
        if args.sft:
            print(f"error: no SFT export at {sft}")
            return 2
        sft = None
    out = Path(args.out) if args.out else card_path_for(export)
    with duckdb.connect(str(args.db), read_only=True) as connection:
        numbers = card_numbers(
            connection,
            {name: name for name in RELATIONS},
            card_path=str(out),
            export_path=str(export),
            export_rows=parquet_rows(export),
            filters=manifest_filters(connection, export),
            sft_path=None if sft is None else str(sft),
            sft_rows=None if sft is None else parquet_rows(sft),
        )
    manifest = write_card(render_card(numbers), out)
    print(f"wrote {manifest['card_path']} ({manifest['n_bytes']:,} bytes)")
    return 0

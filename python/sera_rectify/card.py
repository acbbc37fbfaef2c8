"""The Hugging Face dataset card (README.md) written next to the export, from the numbers of the build.

`python -m sera_rectify card --db sera.duckdb --export output/sera_rectified.parquet --out output/README.md`
writes it from a built database; the dbt model sera_rectified_card writes it during `dbt build`. Both
go through the same three steps (write_build_card chains them):

    card_numbers(connection, relations, ...)  -> a small dict of numbers (plain reads of the marts)
    render_card(numbers)                      -> the card text (pure: the Jinja template, unit-tested from a dict)
    write_card(text, path)                    -> temporary file beside the target, then published (atomic.atomic_file)

The sections follow the public card this project rebuilds (shared/seed/dataset-card.md); the text is the
Jinja template templates/dataset_card.md.jinja. Every count in it comes from the build's marts
(dataset_summary, source_reconciliation, reject_summary, flag_summary, ...), none is typed in here or in
the template. The card and its picture go beside the export, on object storage too (s3://..., docs/storage.md).
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import posixpath
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import pyarrow.parquet as pq
import yaml

from . import storage
from .atomic import atomic_file
from .export import EXPORT_COLUMNS
from .sft import SFT_COLUMNS, default_sft_path
from .spec import reasoning_templates, tool_schemas

CARD_NAME = "README.md"
TEMPLATE = "dataset_card.md.jinja"  # in templates/ (package data)
TITLE = "SERA — Consolidated & Rectified"
# the models the numbers come from; the dbt model passes each as a subquery of its ref()
RELATIONS = (
    "dataset_summary",
    "source_reconciliation",
    "reject_summary",
    "token_summary",
    "token_histogram",
    "stg_training__tokenizer",
    "export_filters",
    "flag_summary",
)
HISTOGRAM_NAME = "token_histogram.png"  # beside the card
# dataset_summary's columns, as the card reads them
SUMMARY_COLUMNS = (
    "teacher",
    "scale",
    "rollout",
    "is_total",
    "n_rows",
    "min_messages",
    "avg_messages",
    "max_messages",
    "min_tool_calls",
    "avg_tool_calls",
    "max_tool_calls",
    "avg_line_level_recall",
)

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
    "messages": ("json", "The trajectory as OpenAI chat messages: `load_dataset` gives a list of dicts (see above)"),
    "tools": ("json", "The tool schemas (OpenAI `tools` format), for `apply_chat_template(..., tools=...)`"),
    "source_dataset": ("string", "The source dataset of the row"),
    "n_tokens": ("int32", "Tokens of the row: `apply_chat_template(messages, tools=tools, tokenize=True)` (null without a tokenizer)"),
    "flags": ("list<string>", "The row's flag codes, empty when clean (see Flags above)"),
}
TOOL_DOCS = {
    "str_replace_editor": "file viewer/editor (view, create, str_replace, insert, undo_edit)",
    "bash": "terminal command execution",
    "submit": "solution submission (the final one becomes the `answer`)",
}


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
    of the Hub repository. A file outside that folder (a Hub repository cannot point above its root, and
    a file on other storage than the card's is not in it) is named by its file name: it is uploaded beside the card."""
    path, card_path = str(path), str(card_path)
    if storage.is_remote(path) or storage.is_remote(card_path):
        folder = posixpath.dirname(card_path) + "/"
        relative = path.removeprefix(folder) if path.startswith(folder) else ".."
    else:
        relative = Path(os.path.relpath(Path(path).resolve(), Path(card_path).resolve().parent)).as_posix()
    return posixpath.basename(path) if relative.split("/")[0] == ".." else relative


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
        select source_dataset, hub_repo_id, teacher, scale, rollout, source_format, license, attribution,
            rows_read, rows_out, rows_rejected
        from {r["source_reconciliation"]}
        order by dataset_order
        """,
    )
    summary = _records(
        connection,
        f"""
        select {", ".join(SUMMARY_COLUMNS)}
        from {r["dataset_summary"]}
        order by is_total, teacher, scale, rollout
        """,
    )
    rejects = _records(
        connection,
        f"""
        select reason, n_rows, meaning
        from {r["reject_summary"]}
        order by n_rows desc, reason
        """,
    )
    tokenizer = _records(connection, f"select description, fingerprint from {r['stg_training__tokenizer']}")[0]
    tokens = None
    if tokenizer["description"]:
        tokens = {
            "tokenizer": tokenizer["description"],
            "fingerprint": tokenizer["fingerprint"],
            "max_tokens": _records(connection, f"select max_tokens from {r['export_filters']}")[0]["max_tokens"],
            "per_dataset": _records(connection, f"select * from {r['token_summary']} order by is_total, source_dataset"),
            "histogram": _records(connection, f"select bin_start, bin_end, n_rows from {r['token_histogram']} order by bin"),
        }
    flag_rows = _records(
        connection,
        f"""
        select flag, meaning, needs_benchmark, is_total, source_dataset, n_rows, benchmark, n_benchmark_tasks
        from {r["flag_summary"]}
        order by flag_position, is_total, dataset_order
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
        "tokens": tokens,
        "flags": flag_table(flag_rows),
    }


def flag_table(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """flag_summary's rows (one per dataset and code, and a total per code, in card order) as the card's
    table: one row per code with its count per dataset and in all, and the benchmark that was checked."""
    codes: dict[str, dict[str, Any]] = {}
    for row in rows:
        code = codes.setdefault(row["flag"], {key: row[key] for key in ("flag", "meaning", "needs_benchmark")} | {"counts": []})
        if row["is_total"]:
            code["total"] = int(row["n_rows"])
        else:
            code["counts"].append(int(row["n_rows"]))
    datasets = list(dict.fromkeys(row["source_dataset"] for row in rows if not row["is_total"]))
    return {
        "datasets": datasets,
        "codes": list(codes.values()),
        "benchmark": rows[0]["benchmark"] if rows else None,
        "n_benchmark_tasks": int(rows[0]["n_benchmark_tasks"]) if rows else 0,
    }


# ---------------------------------------------------------------------------------------------
# rendering (pure)


def fmt_int(value: Any) -> str:
    return "—" if value is None else f"{int(value):,}"


def fmt_avg(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f}"


def fmt_recall(value: Any) -> str:
    return "—" if value is None else f"{float(value):.4f}"


def fmt_percent(value: Any) -> str:
    return "—" if value is None else f"{float(value):.3f}%"


def source_name(source: dict[str, Any]) -> str:
    repo = source.get("hub_repo_id")
    return f"[{repo}](https://huggingface.co/datasets/{repo})" if repo else f"`{source['source_dataset']}`"


# the license of the SERA datasets (stg_sera__datasets)
SERA_LICENSE = "ODC-By-1.0"


def per_source_license(sources: list[dict[str, Any]]) -> bool:
    """Whether the build holds a source that is not under SERA's license (another dataset, or one that
    declares none): the card then names each source's license instead of one for all."""
    return any(source.get("license") != SERA_LICENSE for source in sources)


def yaml_header(numbers: dict[str, Any]) -> dict[str, Any]:
    """The card's metadata block: what the Hub reads for license, search facets and the viewer."""
    export_file = numbers["export_file"]
    configs = [{"config_name": "default", "data_files": [{"split": "train", "path": export_file}]}]
    if numbers.get("sft_file"):
        configs.append({"config_name": "sft", "data_files": [{"split": "train", "path": numbers["sft_file"]}]})
    header = {
        # one license for the Hub's facet; a build that mixes sources lists each in the card's License section
        "license": "other" if per_source_license(numbers["sources"]) else "odc-by",
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


@functools.cache
def card_template() -> jinja2.Template:
    """templates/dataset_card.md.jinja, with the formatting helpers as filters. A line holding only a
    block tag ({% if %}, {% for %}) renders as nothing (trim_blocks, lstrip_blocks); a name the context
    lacks is an error, not an empty string (StrictUndefined)."""
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader(__package__, "templates"),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        autoescape=False,
    )
    environment.filters |= {
        "fmt_int": fmt_int,
        "fmt_avg": fmt_avg,
        "fmt_recall": fmt_recall,
        "fmt_percent": fmt_percent,
        "source_name": source_name,
    }
    return environment.get_template(TEMPLATE)


def card_context(numbers: dict[str, Any]) -> dict[str, Any]:
    """What the template reads: `numbers` (the dict card_numbers returns), with the sums, the YAML
    header and the static tables (columns, tools) worked out."""
    sources = numbers["sources"]
    rows_read = sum(int(s["rows_read"] or 0) for s in sources)
    rows_out = sum(int(s["rows_out"] or 0) for s in sources)
    total = dict.fromkeys(SUMMARY_COLUMNS) | numbers["total"]
    total_rows = int(total["n_rows"] or 0)
    tool_names = [tool["function"]["name"] for tool in tool_schemas()]
    return {
        "header": yaml.safe_dump(yaml_header(numbers), sort_keys=False, allow_unicode=True, width=1000).rstrip(),
        "title": TITLE,
        "export_file": numbers["export_file"],
        "export_rows": numbers["export_rows"],
        "filters": numbers.get("filters"),
        "sft_file": numbers.get("sft_file"),
        "sft_rows": numbers.get("sft_rows"),
        "subset": bool(numbers.get("filters")) or numbers["export_rows"] != total_rows,
        "sources": sources,
        "other_sources": [s for s in sources if s.get("source_format", "sera") != "sera"],
        "per_source_license": per_source_license(sources),
        "rows_read": rows_read,
        "rows_out": rows_out,
        "rows_rejected": sum(int(s["rows_rejected"] or 0) for s in sources),
        "conversion_rate": 100 * rows_out / rows_read if rows_read else None,
        "distribution": [dict.fromkeys(SUMMARY_COLUMNS) | d for d in numbers["distribution"]],
        "total": total,
        "total_rows": total_rows,
        "rejects": [{"meaning": None} | r for r in numbers["rejects"]],
        "columns": [(name, *COLUMN_DOCS[name]) for name in EXPORT_COLUMNS],
        "sft_columns": [(name, *SFT_COLUMN_DOCS[name]) for name in SFT_COLUMNS],
        "tools": [(name, TOOL_DOCS.get(name, "see the schema in the system message")) for name in tool_names],
        "n_reasoning_templates": len(reasoning_templates()),
        "tokens": numbers.get("tokens"),
        "histogram_file": HISTOGRAM_NAME,
        "flags": numbers["flags"],
    }


def render_card(numbers: dict[str, Any]) -> str:
    """The README.md text: YAML header, then the sections of the public card, filled from `numbers`
    (the dict card_numbers returns)."""
    return card_template().render(card_context(numbers))


# ---------------------------------------------------------------------------------------------
# the file and the command (side effects)


def card_path_for(export_path: str | Path) -> str | Path:
    """Where the card goes: README.md in the export's folder (the root of the Hub repository); a Path
    beside a local export, a URI beside one on object storage (pathlib would collapse its '//')."""
    if storage.is_remote(str(export_path)):
        return storage.sibling(str(export_path), CARD_NAME)
    return Path(export_path).with_name(CARD_NAME)


def write_card(text: str, path: str | Path) -> dict[str, Any]:
    """Write the card to a temporary file beside `path`, then publish it (never a half-written card)."""
    target = str(path)
    with atomic_file(target) as temporary:
        storage.write_bytes(str(temporary), text.encode("utf-8"))
    return {"card_path": target, "n_bytes": storage.size_of(target)}


def write_build_card(
    connection: duckdb.DuckDBPyConnection,
    relations: Mapping[str, str],
    *,
    export_path: str,
    export_rows: int,
    filters: str | None = None,
    sft_path: str | None = None,
    sft_rows: int | None = None,
    card_path: str | Path | None = None,
) -> dict[str, Any]:
    """The three steps for one build (the dbt model's and the command's one call): the card of the marts
    in `relations`, written to `card_path` (default README.md beside the export)."""
    path = str(card_path or card_path_for(export_path))
    numbers = card_numbers(
        connection,
        relations,
        card_path=path,
        export_path=str(export_path),
        export_rows=export_rows,
        filters=filters,
        sft_path=sft_path,
        sft_rows=sft_rows,
    )
    if numbers["tokens"] and numbers["tokens"]["histogram"]:
        write_histogram(numbers["tokens"], storage.sibling(path, HISTOGRAM_NAME))
    return write_card(render_card(numbers), path)


def write_histogram(tokens: dict[str, Any], path: str) -> None:
    """The picture of n_tokens the card shows: the token_histogram mart's bins, the budget as a line."""
    from matplotlib.figure import Figure  # not pyplot: no global state, no GUI backend to choose

    bins = tokens["histogram"]
    figure = Figure(figsize=(8, 3.5), dpi=100)
    axes = figure.subplots()
    axes.bar([b["bin_start"] for b in bins], [b["n_rows"] for b in bins], width=[b["bin_end"] - b["bin_start"] for b in bins], align="edge")
    if tokens["max_tokens"]:
        axes.axvline(tokens["max_tokens"], color="tab:red", linestyle="--", label=f"max_tokens = {tokens['max_tokens']:,}")
        axes.legend()
    axes.set_xlabel(f"tokens per row ({tokens['tokenizer']})")
    axes.set_ylabel("rows")
    figure.tight_layout()
    picture = io.BytesIO()
    figure.savefig(picture, format="png", metadata={"Software": None})
    with atomic_file(path) as temporary:
        storage.write_bytes(str(temporary), picture.getvalue())


def parquet_rows(path: str) -> int:
    """The row count in a Parquet file's footer (local or on object storage)."""
    filesystem, inner = storage.filesystem_of(path)
    with filesystem.open_input_file(inner) as file:
        return pq.ParquetFile(file).metadata.num_rows


def manifest_filters(connection: duckdb.DuckDBPyConnection, export_path: str) -> str | None:
    """The filters the build applied to this export, from the sera_rectified_export manifest (None when
    the database has no manifest for this file)."""
    try:
        manifests = connection.execute("select export_path, filters from sera_rectified_export").fetchall()
    except duckdb.Error:
        return None
    for path, filters in manifests:
        if Path(path).resolve() == Path(export_path).resolve():  # a URI matches itself (as a relative path)
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
    export = args.export
    if not storage.exists(export):
        print(f"error: no export at {export} (run `dbt build` first)")
        return 2
    if not Path(args.db).is_file():
        print(f"error: no database at {args.db}")
        return 2
    sft = args.sft or default_sft_path(export)
    if not storage.exists(sft):
        if args.sft:
            print(f"error: no SFT export at {sft}")
            return 2
        sft = None
    out = args.out or card_path_for(export)
    with duckdb.connect(str(args.db), read_only=True) as connection:
        storage.register_filesystems(connection)  # the marts are views over the converted parts, which may be on S3
        manifest = write_build_card(
            connection,
            {name: name for name in RELATIONS},
            export_path=export,
            export_rows=parquet_rows(export),
            filters=manifest_filters(connection, export),
            sft_path=sft,
            sft_rows=None if sft is None else parquet_rows(sft),
            card_path=out,
        )
    print(f"wrote {manifest['card_path']} ({manifest['n_bytes']:,} bytes)")
    return 0

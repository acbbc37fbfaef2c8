"""`python -m sera_rectify convert FILE`: convert one trajectory and show it to a person (spec/interface.md).

FILE is a SWE-agent trajectory (`.traj` JSON, or a `.yaml`/`.yml` demonstration), a JSON Lines file of
source rows (`--row N` picks the N-th non-blank line, as `source_row` counts them), a Parquet file of source
rows (`--row N`), or a `.json` file holding one row object or a JSON list of them (`--row N`). A `.json`
object with a `history` key and no `messages` key is read as a trajectory.

The row goes through exactly what `dbt build` runs: `sources.traj_record` / `sources.parse_line`, then
`rows.output_row` with the row's source format (`--format`, else detected by `formats.detect_format` and
reported on stderr). Nothing here re-implements a rule; this module only reads and formats.

A reject is an answer (exit 0). A file that cannot be read or parsed at all is an error on stderr (exit 2).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from . import formats, jsontext
from .datasets import DATASET_NAMES, SERA_DATASETS
from .rows import output_row
from .sources import (
    SERA_KIND,
    TRAJ_KIND,
    LineReject,
    SourceError,
    SourceFile,
    file_format_of,
    iter_lines,
    iter_parquet_rows,
    parse_line,
    traj_record,
)

DEFAULT_ROW_DATASET = "Sera-4.6-Lite-T2"
PREVIEW_CHARS = 400
EXIT_OK = 0
EXIT_BAD_INPUT = 2


class InputError(Exception):
    """FILE cannot be read or parsed at all; the message names the file and what to do."""


@dataclass(frozen=True)
class Loaded:
    """One source row read from FILE, or the reason its line is not a row object."""

    record: dict | LineReject
    dataset: str
    where: str  # "path" or "path, row N", for the header


# ---------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        metavar="FILE",
        help="a .traj, a .yaml/.yml demonstration, a .jsonl(.gz/.zst) or .parquet file of rows, or a .json row (or list of rows)",
    )
    parser.add_argument(
        "--row",
        type=non_negative_int,
        default=None,
        metavar="N",
        help="which row of a JSON Lines / Parquet / JSON-list file (0-based, blank lines not counted; default 0)",
    )
    parser.add_argument(
        "--dataset",
        default=None,
        metavar="NAME",
        help=(
            "dataset name: feeds the fill-in template choice and T2 recall (default: the SERA dataset folder the file "
            f"is in, else {DEFAULT_ROW_DATASET} for rows; the parent folder name for a trajectory)"
        ),
    )
    parser.add_argument(
        "--format",
        choices=formats.FORMATS,
        default=None,
        help="the row's source format (docs/formats.md); default: detected from the row, and said on stderr",
    )
    parser.add_argument(
        "--full", action="store_true", help=f"print every message in full (default: contents cut at {PREVIEW_CHARS} characters)"
    )
    parser.add_argument(
        "--json", action="store_true", help="print only the exact `messages` string (a reject: a JSON object with reason and detail)"
    )


def one_line(text: str) -> str:
    """Parser messages (YAML's) span lines; an error here is one line."""
    return " ".join(text.split())


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        loaded = load(Path(args.file), row=args.row, dataset=args.dataset, source_format=args.format)
    except InputError as err:
        print(f"error: {one_line(str(err))}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RecursionError:  # the JSON / YAML parsers recurse per nesting level
        print(f"error: {args.file}: nested too deeply to parse. Check that it is a trajectory or a file of rows.", file=sys.stderr)
        return EXIT_BAD_INPUT
    source_format = args.format or detected_format(loaded)
    result = output_row_of(loaded, source_format)
    text = format_json(result) if args.json else format_report(loaded, result, full=args.full)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `... | head`: the reader has what it wanted; no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# Reading FILE (the only IO besides printing)


def input_kind(path: Path) -> str:
    """'traj', 'traj_yaml', 'jsonl', 'parquet' or 'json', from the file name (as the pipeline sees it)."""
    name = path.name
    kind = file_format_of(name, TRAJ_KIND) or file_format_of(name, SERA_KIND)
    if kind is None and name.endswith(".json"):
        return "json"
    if kind is None:
        raise InputError(f"{path}: unknown file type. Give a .traj, .yaml/.yml, .jsonl(.gz/.zst), .parquet or .json file.")
    return kind


def default_dataset(path: Path, kind: str) -> str:
    """A trajectory: its parent folder name (what a traj_dirs folder would be called). A row: the SERA
    dataset folder the file sits in (as under sources_dir), else Sera-4.6-Lite-T2."""
    folders = list(path.resolve().parent.parts)
    if kind in ("traj", "traj_yaml"):
        return folders[-1] if folders else ""
    return next((part for part in reversed(folders) if part in DATASET_NAMES), DEFAULT_ROW_DATASET)


def rollout_of(dataset: str) -> str:
    """T2 datasets get line_level_recall: a SERA dataset's rollout from the published table; any other
    name (a trajectory folder) is T2 when it ends in T2, as the SERA names do."""
    known = {d.name: d.rollout for d in SERA_DATASETS}
    return known.get(dataset, "T2" if dataset.upper().endswith("T2") else "T1")


def load(path: Path, *, row: int | None, dataset: str | None, source_format: str | None = None) -> Loaded:
    """Read FILE and pick the row: a reject from a bad line is data, an unreadable file an InputError.
    A Parquet file is read for SERA's published columns (and must have them) when the format is sera,
    whole otherwise (another format's columns; or none given yet: detection needs them all)."""
    kind = input_kind(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file (or not a regular file). Check the path.")
    index = row or 0
    name = dataset or default_dataset(path, kind)
    where = f"{path}, row {index}"
    if kind == "jsonl":
        return Loaded(parse_line(nth_line(path, index)), name, where)
    if kind == "parquet":
        return Loaded(nth_parquet_row(path, index, name, published_columns=source_format == formats.SERA), name, where)
    data = read_file(path)
    if kind == "json":
        value = json_value(data, path)
        if not (isinstance(value, dict) and "history" in value and "messages" not in value):
            return Loaded(pick_row(value, index, path), name, where if isinstance(value, list) else str(path))
        kind, name = "traj", dataset or default_dataset(path, "traj")
    if row not in (None, 0):
        raise InputError(f"{path}: a trajectory file holds one trajectory; drop --row.")
    return Loaded(trajectory_record(data, path, kind, name), name, str(path))


def read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot read it ({err.strerror or err}). Check the path and its permissions.") from None


def trajectory_record(data: bytes, path: Path, kind: str, dataset: str) -> dict:
    """The row a .traj stands for, exactly as the pipeline maps it (sources.traj_record)."""
    record = traj_record(data, SourceFile(dataset, f"{dataset}/{path.name}", str(path), kind))
    if isinstance(record, LineReject):
        raise InputError(f"{path}: {record.detail} (`dbt build` would reject it as {record.reason}). Repair or re-export the trajectory.")
    return record


def nth_line(path: Path, index: int) -> bytes:
    """The index-th non-blank line (sources.iter_lines: the pipeline's own row numbering)."""
    seen = 0
    try:
        for line in iter_lines(str(path)):
            if seen == index:
                return line
            seen += 1
    except SourceError as err:
        raise InputError(str(err)) from None
    raise InputError(
        f"{path}: has {seen} rows (non-blank lines); use --row 0..{seen - 1}."
        if seen
        else f"{path}: has no non-blank line, no row to convert."
    )


def nth_parquet_row(path: Path, index: int, dataset: str, *, published_columns: bool) -> dict:
    try:
        rows = iter_parquet_rows(SourceFile(dataset, path.name, str(path), "parquet"), 256, published_columns)
        record = next(islice(rows, index, None), None)
    except SourceError as err:
        raise InputError(str(err)) from None
    if record is None:
        raise InputError(f"{path}: has fewer than {index + 1} rows; use a smaller --row.")
    return record


def json_value(data: bytes, path: Path) -> Any:
    try:
        return jsontext.loads(data)  # the pipeline's parser: orjson, stdlib json for lone surrogate escapes
    except ValueError as err:
        raise InputError(
            f"{path}: not valid JSON ({err}). A .json file must hold one row object or a list of them; use .jsonl for JSON Lines."
        ) from None


def pick_row(value: Any, index: int, path: Path) -> dict:
    if isinstance(value, list):
        if index >= len(value):
            raise InputError(
                f"{path}: holds {len(value)} rows; use --row 0..{len(value) - 1}."
                if value
                else f"{path}: holds an empty list, no row to convert."
            )
        value = value[index]
    elif index:
        raise InputError(f"{path}: holds one row object, not a list; drop --row.")
    if not isinstance(value, dict):
        raise InputError(f"{path}: the row is a JSON {type(value).__name__}, not an object with a `messages` column.")
    return value


# ---------------------------------------------------------------------------------------------
# Converting and formatting (pure)


def detected_format(loaded: Loaded) -> str:
    """The row's format as detect_format sees it, said on stderr (stdout stays the answer)."""
    if isinstance(loaded.record, LineReject):
        return formats.SERA
    source_format, why = formats.detect_format(loaded.record)
    print(f"format: {source_format} (detected: {why}; choose with --format)", file=sys.stderr)
    return source_format


def output_row_of(loaded: Loaded, source_format: str = formats.SERA) -> dict[str, Any]:
    """The pipeline's output row for it: converted, or with reject_reason and reject_detail."""
    if isinstance(loaded.record, LineReject):
        record = loaded.record
        return {"instance_id": None, "source_format": source_format, "reject_reason": record.reason, "reject_detail": record.detail}
    return output_row(loaded.record, loaded.dataset, rollout_of(loaded.dataset), None, source_format)


def format_json(result: dict[str, Any]) -> str:
    """--json: the exact `messages` string; for a reject, {"reason", "detail"}."""
    if "reject_reason" in result:
        return json.dumps({"reason": result["reject_reason"], "detail": result["reject_detail"]}, ensure_ascii=False) + "\n"
    return result["messages"] + "\n"


def format_report(loaded: Loaded, result: dict[str, Any], *, full: bool) -> str:
    lines = header_lines(loaded, result)
    if "reject_reason" in result:
        lines += [f"rejected: {result['reject_reason']}", f"detail: {result['reject_detail']}"]
        return "\n".join(lines) + "\n"
    blocks = [format_message(index, message, full=full) for index, message in enumerate(json.loads(result["messages"]))]
    return "\n".join(lines) + "\n\n" + "\n\n".join(blocks) + "\n"


def header_lines(loaded: Loaded, result: dict[str, Any]) -> list[str]:
    rollout = rollout_of(loaded.dataset)
    lines = [
        f"file: {loaded.where}",
        f"dataset: {loaded.dataset} ({rollout})",
        f"format: {result.get('source_format')}",
        f"instance_id: {result.get('instance_id')}",
    ]
    for key in ("teacher", "resolved", "exit_status"):
        if result.get(key) is not None:
            lines.append(f"{key}: {result[key]}")
    if "reject_reason" in result:
        return lines
    lines += [
        f"messages: {result['n_messages']}",
        f"tool calls: {result['n_tool_calls']}",
        f"trimmed submits: {result['n_trimmed_submits']}",
        f"folded text-only messages: {result['n_folded_texts']}",
        f"filled reasonings: {result['n_filled_reasoning']}",
        f"replaced lone surrogates: {result['n_replaced_chars']}",
        f"dropped nudges: {result['n_dropped_nudges']}",
        f"dropped format-error replies: {result['n_dropped_format_errors']}",
    ]
    if rollout == "T2":
        recall = result["line_level_recall"]
        lines.append(f"line_level_recall: {'null' if recall is None else recall}")
    return lines


def format_message(index: int, message: dict[str, str], *, full: bool) -> str:
    content = message["content"] if full else shorten(message["content"], PREVIEW_CHARS)
    return f"[{index}] {message['role']}\n{content}"


def shorten(text: str, limit: int) -> str:
    """The first `limit` characters and how many more there are."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more chars)"

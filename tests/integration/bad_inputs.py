"""Builders of valid and broken SERA inputs for the integration tests (not a test module).

Every builder writes or returns data in the published layout of spec/sources.md: a sources folder holds
one folder per dataset (named as in seeds/sera_datasets.csv), each with JSON Lines (`*.jsonl`,
`*.jsonl.gz`, `*.jsonl.zst`) or Parquet files at any depth. Valid rows come from
`sera_testkit.synthetic.make_row` (realistic SWE-agent histories); each broken variant edits one thing
in a copy of such a row, so the row that fails differs from a converting row by that one thing.

Used by test_bad_inputs.py (one build over many small cases, plus one build per file-level error) and
test_atomic_export.py (a larger realistic input whose export takes a moment).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from sera_testkit.constants import OBSERVATION, SERA_SYSTEM
from sera_testkit.synthetic import COLUMNS, make_row

SEED = 4242
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_SAME = object()


# ---------------------------------------------------------------------------------------------
# Valid rows and messages


def valid_row(instance_id: str, *, dataset: str = "Sera-4.6-Lite-T1", index: int = 0, size: str = "sample") -> dict:
    """A realistic valid source row (published column order) with the given instance_id."""
    row = make_row(dataset, index, SEED, size)
    row["instance_id"] = instance_id
    return row


def valid_messages(index: int = 0, dataset: str = "Sera-4.6-Lite-T1") -> list[dict]:
    """The decoded `messages` list of a valid row: system, user, then assistant/tool steps ending in submits."""
    return json.loads(make_row(dataset, index, SEED)["messages"])


def row_with_messages(instance_id: str, messages: Any, *, index: int = 0, ensure_ascii: bool = True, **overrides: Any) -> dict:
    """A valid row whose `messages` column is replaced: a list is JSON-encoded (as published), any other
    value (None, a string, a number) is put in as is."""
    row = valid_row(instance_id, index=index)
    row["messages"] = json.dumps(messages, ensure_ascii=ensure_ascii) if isinstance(messages, list) else messages
    row.update(overrides)
    return row


def edited_row(instance_id: str, edit: Callable[[list[dict]], Any], *, index: int = 0, **overrides: Any) -> dict:
    """A valid row whose message list went through `edit`, which mutates it in place or returns a new list
    (any other return value, e.g. of `list.pop`, is ignored)."""
    messages = valid_messages(index)
    result = edit(messages)
    return row_with_messages(instance_id, result if isinstance(result, list) else messages, index=index, **overrides)


def assistant(
    content: Any = "<think>Let me look.</think>\nLooking.",
    *,
    thought: Any = _SAME,
    name: str | None = "bash",
    arguments: Any = '{"command": "ls /testbed"}',
    n_calls: int = 1,
) -> dict:
    """An assistant message shaped like the published ones; name=None gives a text-only message."""
    calls = None
    if name is not None:
        calls = [
            {"index": -1, "function": {"arguments": arguments, "name": name}, "id": f"call_{k:024x}", "type": "function"}
            for k in range(n_calls)
        ]
    message = {"role": "assistant", "content": content, "thought": content if thought is _SAME else thought,
               "action": "", "agent": "main", "tool_calls": calls, "message_type": "action"}
    if thought is None:
        del message["thought"]
    return message


def tool(text: str) -> dict:
    return {"role": "tool", "content": [{"type": "text", "text": text}], "agent": "main", "message_type": "observation",
            "tool_call_ids": ["call_000000000000000000000000"]}


def user(text: str = "Please fix it.") -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}], "agent": "main", "message_type": "observation"}


def system(text: str = SERA_SYSTEM) -> dict:
    return {"role": "system", "content": text, "agent": "main", "message_type": "system_prompt"}


def submit_step(output: str | None) -> list[dict]:
    """A submit call and (unless output is None) its tool message."""
    call = assistant("<think>Done; submitting.</think>", name="submit", arguments="{}")
    return [call] if output is None else [call, tool(OBSERVATION + output)]


def first_submit_index(messages: list[dict]) -> int:
    """Index of the first assistant message that calls submit (the start of the SWE-agent ending)."""
    for index, message in enumerate(messages):
        for call in message.get("tool_calls") or []:
            if call["function"]["name"] == "submit":
                return index
    raise ValueError("no submit in the messages")


def set_first_reasoning(messages: list[dict], content: Any, thought: Any = _SAME) -> None:
    """Replace content/thought of message 2 (the first assistant step); thought=None removes the key."""
    message = messages[2]
    message["content"] = content
    if thought is None:
        message.pop("thought", None)
    else:
        message["thought"] = content if thought is _SAME else thought


def set_first_call(messages: list[dict], **function: Any) -> None:
    """Change keys of the first tool call's `function` (name, arguments)."""
    messages[2]["tool_calls"][0]["function"].update(function)


def set_first_output(messages: list[dict], text: str) -> None:
    """The first tool message's text (message 3), with the "OBSERVATION:\\n" label kept."""
    messages[3]["content"] = [{"type": "text", "text": OBSERVATION + text}]


def big_output_text(n_chars: int) -> str:
    """A deterministic tool output of exactly n_chars characters, mostly ASCII with some multi-byte text."""
    line = "pytest -q tests/test_storage.py::test_write_{:08d} PASSED  café ✓ 日本\n"
    lines = [line.format(k) for k in range(n_chars // len(line.format(0)) + 1)]
    return "".join(lines)[:n_chars]


# ---------------------------------------------------------------------------------------------
# Lines and files


def encode_row(row: dict) -> bytes:
    """One JSON Lines line (no newline): UTF-8 text kept raw, except where a lone surrogate forces an
    ASCII escape (a lone surrogate cannot be written as UTF-8)."""
    try:
        return json.dumps(row, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(row).encode("ascii")


def as_line(item: dict | bytes | str) -> bytes:
    if isinstance(item, dict):
        return encode_row(item)
    return item if isinstance(item, bytes) else item.encode("utf-8")


def write_jsonl(path: Path, items: Iterable[dict | bytes | str], *, newline: bytes = b"\n", final_newline: bool = True) -> Path:
    """Rows (dicts) or raw lines (bytes/str) as a JSON Lines file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = newline.join(as_line(item) for item in items)
    path.write_bytes(data + (newline if final_newline else b""))
    return path


def write_gzip_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(b"".join(encode_row(r) + b"\n" for r in rows), mtime=0))
    return path


def write_zst_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(zstandard.ZstdCompressor().compress(b"".join(encode_row(r) + b"\n" for r in rows)))
    return path


def write_parquet(path: Path, rows: list[dict], columns: Iterable[str] = COLUMNS) -> Path:
    """Rows as a Parquet file with string columns (as the Hub's Parquet conversion)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(columns)
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in columns})
    pq.write_table(table, path)
    return path


def write_truncated_gzip(path: Path, rows: list[dict]) -> Path:
    """A .jsonl.gz cut in the middle, as an interrupted download leaves it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = gzip.compress(b"".join(encode_row(r) + b"\n" for r in rows), mtime=0)
    path.write_bytes(data[: len(data) // 2])
    return path


def write_corrupt_parquet(path: Path, rows: list[dict]) -> Path:
    """A Parquet file whose footer is damaged: the magic bytes are there, the metadata is garbage."""
    write_parquet(path, rows)
    data = bytearray(path.read_bytes())
    data[-40:-4] = b"\xff" * 36
    path.write_bytes(bytes(data))
    return path


def truncated_line(row: dict) -> bytes:
    """A row's line cut in half: not valid JSON (the typical broken last line of an interrupted write)."""
    line = encode_row(row)
    return line[: len(line) // 2]


def invalid_utf8_line(row: dict, bad: bytes = b"\xff\xfe") -> bytes:
    """A row's line with bytes that are not UTF-8 inside its instance_id string."""
    line = encode_row(row)
    marker = json.dumps(row["instance_id"]).encode()
    return line.replace(marker, marker[:-1] + bad + b'"', 1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------------------------------------
# Realistic input for the export tests


def write_realistic_sources(sources: Path, datasets: dict[str, int], files_per_dataset: int = 3) -> list[str]:
    """`n` realistic rows per dataset (synthetic, size="realistic"), dealt round-robin over several files in
    two sub-folders, so that sorted path order differs from writing order. Returns the instance_ids in
    the order spec/output.md gives the export: dataset order, then file path, then row."""
    expected: list[str] = []
    for dataset, n_rows in datasets.items():  # callers list datasets in seeds/sera_datasets.csv order
        rows = [make_row(dataset, index, SEED, "realistic") for index in range(n_rows)]
        files = {}
        for part in range(files_per_dataset):
            relative = f"{'part_b' if part % 2 else 'part_a'}/rows_{part:02d}.jsonl"
            files[relative] = rows[part::files_per_dataset]
            write_jsonl(sources / dataset / relative, files[relative])
        expected += [row["instance_id"] for relative in sorted(files) for row in files[relative]]
    return expected


# ---------------------------------------------------------------------------------------------
# Running dbt


def plain(text: str) -> str:
    """dbt output without its colour codes."""
    return ANSI_ESCAPE.sub("", text)


def temp_exports(export_path: Path) -> list[Path]:
    """Temporary files of the export beside the target (python/sera_rectify/export.py: `<name>.tmp-<pid>`)."""
    return sorted(export_path.parent.glob(export_path.name + ".tmp-*")) if export_path.parent.exists() else []


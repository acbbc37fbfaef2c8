#!/usr/bin/env python3
"""The naive converter: spec/conversion.md §1-§5 and §7, straight from the spec, for the benchmark.

What the project's build is compared against (bench/run.py, step b) and a cross-check of the project's
converter (tests/unit/test_bench.py): written from the spec alone, without reading or importing
python/sera_rectify/convert.py, so a divergence in either shows up as a difference.

Deliberately plain: stdlib json only (no orjson), one process, JSON Lines only (no .gz/.zst/Parquet),
reads each file line by line and writes the 8 export columns (spec/output.md) to one zstd Parquet with
pyarrow.parquet.ParquetWriter, a row group every ~64 MB of text. Memory is one batch, not the dataset.
Rejected rows are counted by reason, not written.

Usage: python bench/naive.py --sources DIR --out FILE.parquet   (prints a JSON summary line)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sera_rectify.datasets import SERA_DATASETS

# spec/sources.md: (teacher, scale, rollout) per dataset, in output order (the table is data: the
# project's seed, read through the package; every rule below is written from the spec alone)
DATASETS = {dataset.name: (dataset.teacher, dataset.scale, dataset.rollout) for dataset in SERA_DATASETS}
SCHEMA = pa.schema(
    [
        ("messages", pa.string()),
        ("instance_id", pa.string()),
        ("teacher", pa.string()),
        ("scale", pa.string()),
        ("rollout", pa.string()),
        ("func_name", pa.string()),
        ("func_path", pa.string()),
        ("line_level_recall", pa.float64()),
    ]
)
# the contract's fixed texts; the package ships exact copies of ../shared/spec (a unit test checks them)
SPEC_DIR = Path(__file__).resolve().parent.parent / "python" / "sera_rectify" / "spec"
BATCH_TEXT_CHARS = 64 * 1024 * 1024
ZSTD_LEVEL = 3
ROLES = ("system", "user", "assistant", "tool")
OBSERVATION = "OBSERVATION:\n"
SURROGATE = re.compile("[\ud800-\udfff]")
RECALL_SKIP = ("diff", "---", "+++", "@@")


class Reject(Exception):
    """A row that breaks a rule: the spec's reason code and where."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.detail = detail


def _not_json(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def loads(text: str):
    """Strict JSON (NaN and Infinity are not JSON); lone surrogate escapes are accepted."""
    return json.loads(text, parse_constant=_not_json)


class Spec:
    """tools.json, system-prompt.txt and reasoning-templates.txt, read once."""

    def __init__(self, spec_dir: Path = SPEC_DIR) -> None:
        tools = json.loads((spec_dir / "tools.json").read_bytes().decode("utf-8"))
        self.tool_names = {tool["function"]["name"] for tool in tools}
        template = (spec_dir / "system-prompt.txt").read_bytes().decode("utf-8")
        self.system_template = template.replace("{tools_json}", json.dumps(tools, ensure_ascii=False))
        self.templates = (spec_dir / "reasoning-templates.txt").read_bytes().decode("utf-8").splitlines()

    def system(self, source_system: str) -> str:
        return self.system_template.replace("{source_system}", source_system)

    def fill(self, dataset: str, instance_id: str | None, position: int) -> str:
        key = f"{dataset}\n{instance_id or ''}\n{position}".encode()
        return self.templates[int(hashlib.sha256(key).hexdigest(), 16) % len(self.templates)]


@dataclass
class Step:
    reasoning: str
    name: str
    arguments: dict
    output: str | None
    folded: list[str] = field(default_factory=list)


def content_text(content, index: int) -> str:
    """§1 flatten: a string as is, the text of the text parts concatenated, null as ""."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise Reject("unsupported_content_part", f"message {index}: content is a {type(content).__name__}")
    pieces = []
    for part in content:
        if not isinstance(part, dict) or part.get("type") != "text":
            raise Reject("unsupported_content_part", f"message {index}: a part that is not text")
        text = part.get("text")
        if text is None:
            text = ""
        elif not isinstance(text, str):
            raise Reject("unsupported_content_part", f"message {index}: a text part without string text")
        pieces.append(text)
    return "".join(pieces)


def reasoning_text(text: str) -> str:
    """§4: the <think> blocks' inner texts, stripped, then the text outside them, stripped; blank line between.

    An unclosed <think> runs to the end of the text.
    """
    if "<think>" not in text:
        return text.strip()
    blocks, outside = [], []
    rest = text
    while True:
        before, opened, after = rest.partition("<think>")
        outside.append(before)
        if not opened:
            break
        inner, _closed, rest = after.partition("</think>")
        blocks.append(inner.strip())
    return "\n\n".join(piece for piece in blocks + ["".join(outside).strip()] if piece)


def tool_arguments(value, index: int) -> dict:
    """§2: a JSON string giving an object, an object, or null / "" meaning {}."""
    if value is None or (isinstance(value, str) and value == ""):
        return {}
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = loads(value)
        except (ValueError, RecursionError):
            raise Reject("malformed_tool_arguments", f"message {index}: not JSON") from None
        if isinstance(parsed, dict):
            return parsed
    raise Reject("malformed_tool_arguments", f"message {index}: not an object")


def recall(rollout_patch: str | None, target_patch: str | None) -> float | None:
    """§7: the share of the target's changed lines the rollout also has (multiset)."""
    if rollout_patch is None or target_patch is None:
        return None

    def changed(patch: str) -> list[str]:
        kept = []
        for line in patch.splitlines():
            if line.startswith(RECALL_SKIP):
                continue
            if line[:1] in ("+", "-") and line[1:].strip():
                kept.append(line)
        return kept

    target = changed(target_patch)
    if not target:
        return None
    available = Counter(changed(rollout_patch))
    hits = 0
    for line in target:
        if available[line]:
            available[line] -= 1
            hits += 1
    return hits / len(target)


def no_surrogates(text: str | None) -> str | None:
    """§5: lone surrogates cannot be written as UTF-8; each becomes U+FFFD."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return SURROGATE.sub("\ufffd", text)


def as_string(value) -> str | None:
    """Source columns are strings; anything else is kept as its JSON text."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def convert_messages(raw, dataset: str, instance_id: str | None, rollout_patch: str | None, spec: Spec) -> str:
    """§1-§5 for one row's `messages`: the output messages JSON text, or raise Reject."""
    # §1 parse
    if raw is None or (isinstance(raw, str) and raw == ""):
        raise Reject("messages_missing")
    if isinstance(raw, str):
        try:
            raw = loads(raw)
        except (ValueError, RecursionError):
            raise Reject("messages_not_json") from None
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise Reject("messages_not_a_list")
    if len(raw) == 0:
        raise Reject("messages_empty")
    messages = raw
    roles = []
    for i, m in enumerate(messages):
        role = m.get("role")
        if not isinstance(role, str) or role not in ROLES:
            raise Reject("unknown_role", f"message {i}")
        roles.append(role)
    texts = [content_text(m.get("content"), i) for i, m in enumerate(messages)]
    if len(roles) < 2 or roles[0] != "system" or roles[1] != "user":
        raise Reject("bad_preamble")
    for i in range(2, len(roles)):
        if roles[i] == "user":
            raise Reject("unexpected_user_message", f"message {i}")
        if roles[i] == "system":
            raise Reject("unexpected_system_message", f"message {i}")

    # §2 pair calls with outputs, by position; §4 reasoning of every assistant message on the way
    items: list[Step | str] = []  # a Step, or the reasoning text of a text-only message
    i = 2
    while i < len(messages):
        m = messages[i]
        if roles[i] == "tool":
            raise Reject("orphan_tool_output", f"message {i}")
        thought = m.get("thought")
        source = thought if isinstance(thought, str) and thought.strip() else texts[i]
        reasoning = reasoning_text(source)
        calls = m.get("tool_calls")
        if calls is None or (isinstance(calls, list) and len(calls) == 0):
            items.append(reasoning)
            i += 1
            continue
        if not isinstance(calls, list):
            raise Reject("unknown_tool", f"message {i}: tool_calls is not a list")
        if len(calls) > 1:
            raise Reject("parallel_tool_calls", f"message {i}")
        function = calls[0].get("function") if isinstance(calls[0], dict) else None
        if not isinstance(function, dict):
            function = {}
        name = function.get("name")
        if not isinstance(name, str) or name not in spec.tool_names:
            raise Reject("unknown_tool", f"message {i}")
        arguments = tool_arguments(function.get("arguments"), i)
        if i + 1 < len(messages) and roles[i + 1] == "tool":
            items.append(Step(reasoning, name, arguments, texts[i + 1]))
            i += 2
            continue
        rest_text_only = all(roles[j] == "assistant" and messages[j].get("tool_calls") in (None, []) for j in range(i + 1, len(messages)))
        if name != "submit" or not rest_text_only:
            raise Reject("missing_tool_output", f"message {i}")
        items.append(Step(reasoning, name, arguments, None))
        i += 1

    # §4 folding: text-only reasoning goes in front of the next step's
    steps: list[Step] = []
    pending: list[str] = []
    for item in items:
        if isinstance(item, Step):
            item.folded, pending = pending, []
            steps.append(item)
        else:
            pending.append(item)
    after_last_step = pending

    # §3 the trailing submit run
    if not steps or steps[-1].name != "submit":
        raise Reject("not_submitted")
    first = len(steps) - 1
    while first > 0 and steps[first - 1].name == "submit":
        first -= 1
    answer_step = steps[first]
    if rollout_patch is not None:
        answer = rollout_patch
    elif steps[-1].output is not None:
        answer = steps[-1].output.removeprefix(OBSERVATION)
    else:
        answer = ""

    # §5 rendering
    out = [{"role": "system", "content": spec.system(texts[0])}, {"role": "user", "content": texts[1]}]

    def reasoning_message(pieces: list[str]) -> None:
        text = "\n\n".join(piece for piece in pieces if piece)
        if not text:
            text = spec.fill(dataset, instance_id, len(out))
        out.append({"role": "reasoning", "content": "<think>" + text + "</think>"})

    for step in steps[:first]:
        reasoning_message(step.folded + [step.reasoning])
        call = json.dumps({"name": step.name, "arguments": step.arguments}, ensure_ascii=False)
        out.append({"role": "tool_call", "content": "<tool_call>" + call + "</tool_call>"})
        out.append({"role": "tool_output", "content": "<tool_response>" + step.output.removeprefix(OBSERVATION) + "</tool_response>"})
    reasoning_message(answer_step.folded + [answer_step.reasoning] + after_last_step)
    out.append({"role": "answer", "content": "<answer>" + answer + "</answer>"})
    return no_surrogates(json.dumps(out, ensure_ascii=False))


def convert_line(line: bytes, dataset: str, spec: Spec) -> dict:
    """One JSON Lines line of `dataset`: the 8 output columns, or {"reject": reason, "detail": ...}."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return {"reject": "line_not_utf8", "detail": ""}
    try:
        row = loads(text)
    except (ValueError, RecursionError):
        return {"reject": "line_not_json", "detail": ""}
    if not isinstance(row, dict):
        return {"reject": "line_not_an_object", "detail": ""}
    teacher, scale, rollout = DATASETS[dataset]
    instance_id = no_surrogates(as_string(row.get("instance_id")))
    rollout_patch = as_string(row.get("rollout_patch"))
    try:
        messages = convert_messages(row.get("messages"), dataset, instance_id, rollout_patch, spec)
    except Reject as rejected:
        return {"reject": rejected.reason, "detail": rejected.detail}
    return {
        "messages": messages,
        "instance_id": instance_id,
        "teacher": teacher,
        "scale": scale,
        "rollout": rollout,
        "func_name": no_surrogates(as_string(row.get("func_name"))),
        "func_path": no_surrogates(as_string(row.get("func_path"))),
        "line_level_recall": recall(rollout_patch, as_string(row.get("target_patch"))) if rollout == "T2" else None,
    }


def source_files(sources: Path) -> list[tuple[str, str, Path]]:
    """(dataset, path relative to sources, path) of every *.jsonl, datasets in table order, then path order;
    names starting with "." skipped, symlinks followed (spec/sources.md)."""
    found = []
    for dataset in DATASETS:
        folder = sources / dataset
        if not folder.is_dir():
            continue
        files = []
        for root, dirs, names in os.walk(folder, followlinks=True):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            for name in names:
                if name.endswith(".jsonl") and not name.startswith("."):
                    path = Path(root) / name
                    files.append((f"{dataset}/{path.relative_to(folder).as_posix()}", path))
        found += [(dataset, relative, path) for relative, path in sorted(files)]
    return found


def iter_lines(path: Path):
    """(row index, line) for the non-blank lines of a file: blank lines are not rows."""
    index = 0
    with open(path, "rb") as handle:
        for line in handle:
            if line.strip():
                yield index, line
                index += 1


def convert(sources: Path, out: Path, spec: Spec | None = None) -> dict:
    """Convert every source file into `out`; returns counts."""
    spec = spec or Spec()
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(out.name + ".tmp")
    rows_read = rows_out = bytes_read = 0
    rejects: Counter[str] = Counter()
    columns: dict[str, list] = {name: [] for name in SCHEMA.names}
    chars = 0
    with pq.ParquetWriter(temporary, SCHEMA, compression="zstd", compression_level=ZSTD_LEVEL) as writer:

        def flush() -> None:
            nonlocal chars
            if columns["messages"]:
                writer.write_table(pa.table(columns, schema=SCHEMA))
            for values in columns.values():
                values.clear()
            chars = 0

        for dataset, _relative, path in source_files(sources):
            for _index, line in iter_lines(path):
                rows_read += 1
                bytes_read += len(line)
                row = convert_line(line, dataset, spec)
                if "reject" in row:
                    rejects[row["reject"]] += 1
                    continue
                rows_out += 1
                for name in SCHEMA.names:
                    columns[name].append(row[name])
                chars += len(row["messages"])
                if chars >= BATCH_TEXT_CHARS:
                    flush()
        flush()
    os.replace(temporary, out)
    return {
        "rows_read": rows_read,
        "rows_out": rows_out,
        "rows_rejected": sum(rejects.values()),
        "rejects": dict(sorted(rejects.items())),
        "bytes_read": bytes_read,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", required=True, type=Path, help="sources_dir (one folder per dataset)")
    parser.add_argument("--out", required=True, type=Path, help="the Parquet file to write")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    summary = convert(args.sources, args.out)
    summary["seconds"] = round(time.perf_counter() - started, 3)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

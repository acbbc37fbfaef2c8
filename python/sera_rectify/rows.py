"""One source row in, one output row out: converted (with its SFT-ready messages and statistics) or
rejected with a reason. The row-level edge of the conversion: everything after it only stores rows.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from . import formats, reasons
from .convert import Reject, convert_trajectory
from .flags import artefact_flags, row_repository
from .jsontext import json_type_name
from .reasons import Rejected
from .recall import line_level_recall
from .render import replace_lone_surrogates
from .sft import dump_sft_messages, sft_messages_of
from .sources import LineReject, SourceFile, parse_line, traj_record
from .tokens import ChunkCounter

CONVERTED_SCHEMA = pa.schema(
    [
        ("source_dataset", pa.string()),
        ("source_file", pa.string()),
        ("source_row", pa.int64()),
        ("dataset_order", pa.int32()),
        ("teacher", pa.string()),
        ("scale", pa.string()),
        ("rollout", pa.string()),
        ("source_format", pa.string()),
        ("instance_id", pa.string()),
        ("func_name", pa.string()),
        ("func_path", pa.string()),
        ("resolved", pa.bool_()),
        ("exit_status", pa.string()),
        ("messages", pa.string()),
        ("sft_messages", pa.string()),
        ("tools", pa.string()),
        ("line_level_recall", pa.float64()),
        ("n_messages", pa.int32()),
        ("n_tool_calls", pa.int32()),
        ("n_trimmed_submits", pa.int32()),
        ("n_folded_texts", pa.int32()),
        ("n_filled_reasoning", pa.int32()),
        ("n_replaced_chars", pa.int32()),
        ("n_dropped_nudges", pa.int32()),
        ("n_dropped_format_errors", pa.int32()),
        ("n_chars", pa.int64()),
        ("n_tokens", pa.int32()),
        ("repo", pa.string()),
        ("artefact_flags", pa.list_(pa.string())),
        ("reject_reason", pa.string()),
        ("reject_detail", pa.string()),
    ]
)


def as_text(value: Any) -> str | None:
    """Light cast of a metadata value to a string (all source columns are strings; null stays null)."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def clean_text(value: Any) -> tuple[str | None, int]:
    """as_text with lone surrogates replaced (they cannot be written as UTF-8) and counted."""
    text = as_text(value)
    if text is None:
        return None, 0
    return replace_lone_surrogates(text)


def output_row(
    record: dict, dataset: str, rollout: str, tokens: ChunkCounter | None = None, source_format: str = formats.SERA
) -> dict[str, Any]:
    """One source row (an object) to one output row: read by its format's adapter (formats.py), then
    converted (also in the SFT-ready format, built while the row's texts are in memory, so no later pass
    reads them back, and with its token count when the build has a tokenizer), or rejected with reason
    and detail. `teacher` is set only when the row names its model (the dataset's teacher applies else)."""
    instance_id, n_id = clean_text(record.get("instance_id"))
    func_name, n_name = clean_text(record.get("func_name"))
    func_path, n_path = clean_text(record.get("func_path"))
    row: dict[str, Any] = {"instance_id": instance_id, "func_name": func_name, "func_path": func_path, "source_format": source_format}
    try:
        trajectory = formats.adapt(record, source_format)
    except Rejected as rejected:
        row["reject_reason"], row["reject_detail"] = rejected.reason, rejected.detail
        return row
    row.update(teacher=trajectory.teacher, resolved=trajectory.resolved, exit_status=trajectory.exit_status)
    rollout_patch = as_text(trajectory.patch)
    result = convert_trajectory(
        trajectory.messages, dataset=dataset, instance_id=instance_id, rollout_patch=rollout_patch, tools=trajectory.tools
    )
    if isinstance(result, Reject):
        row["reject_reason"], row["reject_detail"] = result.reason, result.detail
        return row
    sft_messages = sft_messages_of(result, trajectory.tools)
    sft_json = dump_sft_messages(sft_messages)
    row.update(
        messages=result.messages,
        sft_messages=sft_json,
        tools=trajectory.tools.schemas_json,
        n_tokens=tokens.n_tokens(sft_messages, sft_json, trajectory.tools) if tokens else None,
        line_level_recall=line_level_recall(rollout_patch, as_text(record.get("target_patch"))) if rollout == "T2" else None,
        n_messages=result.n_messages,
        n_tool_calls=result.n_tool_calls,
        n_trimmed_submits=result.n_trimmed_submits,
        n_folded_texts=result.n_folded_texts,
        n_filled_reasoning=result.n_filled_reasoning,
        n_replaced_chars=result.n_replaced_chars + n_id + n_name + n_path,
        n_dropped_nudges=trajectory.n_dropped_nudges,
        n_dropped_format_errors=trajectory.n_dropped_format_errors,
        n_chars=len(result.messages),
        repo=row_repository(instance_id, as_text(record.get("docker_image"))),
        artefact_flags=artefact_flags(result.texts),
    )
    return row


def parse_record(record: Any, source: SourceFile) -> dict | LineReject:
    """A raw record as a source row object: a JSON Lines line is parsed, a .traj file read, a Parquet
    row or a .json file's object used as is; a .json item that is no object is a reject."""
    if isinstance(record, dict):
        return record
    if source.file_format in ("traj", "traj_yaml"):
        return traj_record(record, source)
    if not isinstance(record, bytes):
        return LineReject(reasons.LINE_NOT_AN_OBJECT, f"the row is {json_type_name(record)}, not an object")
    return parse_line(record)

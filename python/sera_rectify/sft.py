"""The SFT-ready variant: rectified trajectories in OpenAI chat format, for training libraries.

The main export keeps the strict six-role format of spec/conversion.md §5 (system, user, reasoning,
tool_call, tool_output, answer). Training libraries (transformers' `apply_chat_template`, TRL, axolotl,
LLaMA-Factory) take OpenAI-style messages instead: assistant turns with `reasoning_content`, `content`
and `tool_calls`, tool turns with `tool_call_id`, and the tool schemas beside them. This module maps one
rectified row onto that shape. It only re-labels what the converter wrote: no text is added or lost.

    system, user                     -> as is
    reasoning + tool_call            -> {"role": "assistant", "reasoning_content": R, "content": "",
                                         "tool_calls": [{"id", "type": "function", "function": {...}}]}
    tool_output                      -> {"role": "tool", "tool_call_id": <that id>, "content": text}
    reasoning + answer (the last)    -> {"role": "assistant", "reasoning_content": R, "content": answer}

The pure functions work on one row at a time (`convert_messages`). The conversion's worker processes
run it on every converted row while its text is in memory (pipeline.convert_chunk, column
`sft_messages`); the mart sera_rectified_sft and the export model sera_rectified_sft_export read it
from there, and export.write_export writes the file like the main export.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from . import convert, jsontext
from .export import EXPORT_COLUMNS

# the tag pairs of conversion.md §5, by role
TAGS = {
    "reasoning": (convert.THINK_OPEN, convert.THINK_CLOSE),
    "tool_call": ("<tool_call>", "</tool_call>"),
    "tool_output": ("<tool_response>", "</tool_response>"),
    "answer": ("<answer>", "</answer>"),
}

METADATA_COLUMNS = tuple(name for name in EXPORT_COLUMNS if name != "messages")
# the SFT export's columns: OpenAI `messages`, the tool schemas, then the main export's metadata
SFT_COLUMNS = ("messages", "tools") + METADATA_COLUMNS


class NotRectified(ValueError):
    """The input is not a row of the strict format (conversion.md §6); the dbt FSM test rules it out."""


# ---------------------------------------------------------------------------------------------
# one row


def tools_json() -> str:
    """The `tools` column: tools.json's schema list, the very string the system message embeds.

    It is convert.tools_json() (spec.tool_schemas() dumped once), not a second copy of the schemas.
    """
    return convert.tools_json()


def tool_call_id(index: int) -> str:
    """The id of the row's `index`-th tool call (0-based): `call_0`, `call_1`, ...

    Deterministic rather than random or taken from the source: two builds must give byte-identical
    files (spec/output.md), and the source ids cannot be used anyway: they repeat within one
    trajectory (conversion.md §2 pairs calls with outputs by position) and the trimmed submits drop
    some. A position-based id is unique within the conversation, which is all a chat template or
    trainer needs to pair a tool message with its call.
    """
    return f"call_{index}"


def inner_text(message: Any, role: str, position: int) -> str:
    """The content of a rectified message of `role` without its tags (conversion.md §5)."""
    if not isinstance(message, dict) or message.get("role") != role:
        found = message.get("role") if isinstance(message, dict) else type(message).__name__
        raise NotRectified(f"message {position}: expected {role}, found {found!r}")
    content = message.get("content")
    open_tag, close_tag = TAGS[role]
    if (
        not isinstance(content, str)
        or not content.startswith(open_tag)
        or not content.endswith(close_tag)
        or len(content) < len(open_tag) + len(close_tag)
    ):
        raise NotRectified(f"message {position}: {role} content is not wrapped in {open_tag}...{close_tag}")
    return content[len(open_tag) : len(content) - len(close_tag)]


def preamble_message(message: Any, role: str, position: int) -> dict[str, str]:
    """The system or user message, unchanged."""
    if not isinstance(message, dict) or message.get("role") != role or not isinstance(message.get("content"), str):
        raise NotRectified(f"message {position}: expected a {role} message with text content")
    return {"role": role, "content": message["content"]}


def tool_call_messages(reasoning: str, call_text: str, output: str, index: int, position: int) -> list[dict[str, Any]]:
    """One reasoning / tool_call / tool_output cycle as an assistant call and its tool message.

    The arguments become a JSON *string* (OpenAI's wire format, which chat templates and trainers
    expect), written like the converter writes JSON: json.dumps(..., ensure_ascii=False), by the
    converter's own fast writer (jsontext.dumps_object).
    """
    try:
        call = orjson.loads(call_text)
    except orjson.JSONDecodeError as err:
        raise NotRectified(f"message {position}: tool_call is not JSON: {err}") from None
    if not isinstance(call, dict) or set(call) != {"name", "arguments"} or not isinstance(call["arguments"], dict):
        raise NotRectified(f"message {position}: tool_call must hold exactly name and arguments (an object)")
    call_id = tool_call_id(index)
    return [
        {
            "role": "assistant",
            "reasoning_content": reasoning,
            "content": "",
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call["name"], "arguments": jsontext.dumps_object(call["arguments"])},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": output},
    ]


def to_openai_messages(messages: list[Any]) -> list[dict[str, Any]]:
    """A rectified message list (system, user, reasoning, (tool_call, tool_output, reasoning)*,
    answer: conversion.md §6) as an OpenAI chat list; raises NotRectified on any other sequence."""
    if len(messages) < 4:
        raise NotRectified(f"{len(messages)} messages: a rectified row has at least 4")
    out = [preamble_message(messages[0], "system", 0), preamble_message(messages[1], "user", 1)]
    position, n_calls = 2, 0
    while True:
        reasoning = inner_text(messages[position], "reasoning", position)
        following = messages[position + 1] if position + 1 < len(messages) else None
        if isinstance(following, dict) and following.get("role") == "answer":
            answer = inner_text(following, "answer", position + 1)
            if position + 2 != len(messages):
                raise NotRectified(f"message {position + 2}: nothing may follow the answer")
            out.append({"role": "assistant", "reasoning_content": reasoning, "content": answer})
            return out
        if position + 2 >= len(messages):
            raise NotRectified(f"message {position + 1}: expected tool_call then tool_output, or answer")
        call_text = inner_text(following, "tool_call", position + 1)
        output = inner_text(messages[position + 2], "tool_output", position + 2)
        out.extend(tool_call_messages(reasoning, call_text, output, n_calls, position + 1))
        position += 3
        n_calls += 1
        if position >= len(messages):
            raise NotRectified(f"message {position}: the row ends without an answer")


def convert_messages(messages_json: str) -> str:
    """One row's `messages` column (rectified JSON) to the SFT `messages` column (OpenAI JSON).

    orjson reads and writes it (compact separators, UTF-8 as is): the whole-row dump is the costly
    part, and stdlib json runs it at a sixth of orjson's speed. The input holds no lone surrogate
    (the converter replaced them, conversion.md §5), which is the one thing orjson refuses. The
    tool-call `arguments` strings inside keep json.dumps' own style (tool_call_messages).
    """
    try:
        messages = orjson.loads(messages_json)
    except orjson.JSONDecodeError as err:
        raise NotRectified(f"messages is not JSON: {err}") from None
    if not isinstance(messages, list):
        raise NotRectified(f"messages is a JSON {type(messages).__name__}, not a list")
    return orjson.dumps(to_openai_messages(messages)).decode("utf-8")


# ---------------------------------------------------------------------------------------------
# the file


def default_sft_path(export_path: str) -> str:
    """Where the SFT export goes when the `sft_export_path` var is null: beside the main export, named
    after it (output/sera_rectified.parquet -> output/sera_rectified_sft.parquet)."""
    path = Path(export_path)
    return str(path.with_name(path.stem + "_sft" + path.suffix))

"""The SFT-ready variant: rectified trajectories in OpenAI chat format, for training libraries.

The main export keeps the strict six-role format of spec/conversion.md §5 (system, user, reasoning,
tool_call, tool_output, answer). Training libraries (transformers' `apply_chat_template`, TRL, axolotl,
LLaMA-Factory) take OpenAI-style messages instead: assistant turns with `reasoning_content`, `content`
and `tool_calls`, tool turns with `tool_call_id`, and the tool schemas beside them. This module maps one
rectified row onto that shape. It only re-labels what the converter wrote: no text is added or lost.

    system                           -> the source's own system text (the rectified system message
                                        without the protocol and tool schemas: a tools-aware chat
                                        template adds its own from the `tools` column)
    user                             -> as is
    reasoning + tool_call            -> {"role": "assistant", "reasoning_content": R, "content": "",
                                         "tool_calls": [{"id", "type": "function", "function": {...}}]}
    tool_output                      -> {"role": "tool", "tool_call_id": <that id>, "content": text}
    reasoning + answer (the last)    -> {"role": "assistant", "reasoning_content": R, "content": answer}

The pure functions work on one row at a time (`sft_messages_of_json`). The conversion's worker processes
run it on every converted row while its text is in memory (rows.output_row, column `sft_messages`,
where the row's tokens are counted too); the mart sera_rectified_sft reads it from there, and
the view sera_rectified_sft_filtered exports it with the row's `tools` (its source's own). That file
stores `messages` and `tools` as JSON with the `datasets` features of SFT_FEATURES, so
`datasets.load_dataset` gives them back as Python lists a trainer's chat template takes as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from . import convert, jsontext, render
from .export import EXPORT_COLUMNS
from .storage import sibling

# the tag pairs of conversion.md §5, by role
TAGS = {
    "reasoning": (render.THINK_OPEN, render.THINK_CLOSE),
    "tool_call": ("<tool_call>", "</tool_call>"),
    "tool_output": ("<tool_response>", "</tool_response>"),
    "answer": ("<answer>", "</answer>"),
}

METADATA_COLUMNS = tuple(name for name in EXPORT_COLUMNS if name != "messages")
# the SFT export's columns: OpenAI `messages`, the tool schemas, the main export's metadata, the
# dataset, the row's token count (null without a tokenizer) and its flag codes (flags.py)
SFT_COLUMNS = ("messages", "tools", *METADATA_COLUMNS, "source_dataset", "n_tokens", "flags")
# the `datasets` features of the SFT export (Parquet key-value metadata `huggingface`): `Json` for the
# two JSON columns, so load_dataset returns each value exactly as written (a nested Arrow type would
# unify the tool schemas' keys and fill them with nulls)
SFT_FEATURES = {
    "messages": {"_type": "Json"},
    "tools": {"_type": "Json"},
    **{name: {"dtype": "string", "_type": "Value"} for name in METADATA_COLUMNS if name != "line_level_recall"},
    "line_level_recall": {"dtype": "float64", "_type": "Value"},
    "source_dataset": {"dtype": "string", "_type": "Value"},
    "n_tokens": {"dtype": "int32", "_type": "Value"},
    "flags": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "List"},
}


class NotRectified(ValueError):
    """The input is not a row of the strict format (conversion.md §6); the dbt FSM test rules it out."""


# ---------------------------------------------------------------------------------------------
# one row


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


def preamble_text(message: Any, role: str, position: int) -> str:
    """The content of the system or user message, unchanged."""
    if not isinstance(message, dict) or message.get("role") != role or not isinstance(message.get("content"), str):
        raise NotRectified(f"message {position}: expected a {role} message with text content")
    return message["content"]


def parse_tool_call(call_text: str, position: int) -> render.ToolCall:
    """The inside of a rectified tool_call's tags as name and arguments text.

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
    return render.ToolCall(call["name"], jsontext.dumps_object(call["arguments"]))


def untagged_texts(messages: list[Any], tools: render.ToolSet | None = None) -> list[str | render.ToolCall]:
    """A rectified message list (system, user, reasoning, (tool_call, tool_output, reasoning)*,
    answer: conversion.md §6) as its contents without tags, tool calls as ToolCall; raises
    NotRectified on any other sequence. `tools`: those its system message embeds (SERA's by default)."""
    if len(messages) < 4:
        raise NotRectified(f"{len(messages)} messages: a rectified row has at least 4")
    source_system = render.source_system_of(preamble_text(messages[0], "system", 0), tools)
    if source_system is None:
        raise NotRectified("message 0: the system message is not the rendered system prompt (spec/system-prompt.txt)")
    texts: list[str | render.ToolCall] = [source_system, preamble_text(messages[1], "user", 1)]
    position = 2
    while True:
        texts.append(inner_text(messages[position], "reasoning", position))
        following = messages[position + 1] if position + 1 < len(messages) else None
        if isinstance(following, dict) and following.get("role") == "answer":
            texts.append(inner_text(following, "answer", position + 1))
            if position + 2 != len(messages):
                raise NotRectified(f"message {position + 2}: nothing may follow the answer")
            return texts
        if position + 2 >= len(messages):
            raise NotRectified(f"message {position + 1}: expected tool_call then tool_output, or answer")
        texts.append(parse_tool_call(inner_text(following, "tool_call", position + 1), position + 1))
        texts.append(inner_text(messages[position + 2], "tool_output", position + 2))
        position += 3
        if position >= len(messages):
            raise NotRectified(f"message {position}: the row ends without an answer")


def to_openai_messages(texts: Sequence[str | render.ToolCall]) -> list[dict[str, Any]]:
    """The untagged contents of a rectified row (system, user, reasoning, (call, output,
    reasoning)*, answer) as an OpenAI chat list: each reasoning + call becomes an assistant turn
    with `tool_calls`, each output a tool turn, the last reasoning + answer the final assistant turn."""
    out: list[dict[str, Any]] = [{"role": "system", "content": texts[0]}, {"role": "user", "content": texts[1]}]
    for n_call, position in enumerate(range(2, len(texts) - 2, 3)):
        reasoning, call, output = texts[position : position + 3]
        call_id = tool_call_id(n_call)
        function = {"name": call.name, "arguments": call.arguments_json}
        out.append(
            {
                "role": "assistant",
                "reasoning_content": reasoning,
                "content": "",
                "tool_calls": [{"id": call_id, "type": "function", "function": function}],
            }
        )
        out.append({"role": "tool", "tool_call_id": call_id, "content": output})
    out.append({"role": "assistant", "reasoning_content": texts[-2], "content": texts[-1]})
    return out


def dump_sft_messages(messages: list[dict[str, Any]]) -> str:
    """The SFT `messages` column: orjson (compact separators, UTF-8 as is). The whole-row dump is the
    costly part, and stdlib json is several times slower (docs/benchmark.md). The tool-call `arguments`
    strings inside keep json.dumps' own style (render.tool_call)."""
    return orjson.dumps(messages).decode("utf-8")


def sft_messages_of_json(messages_json: str, tools: render.ToolSet | None = None) -> str:
    """One row's `messages` column (rectified JSON, written with `tools`: SERA's by default) to the SFT
    `messages` column (OpenAI JSON)."""
    try:
        messages = orjson.loads(messages_json)
    except orjson.JSONDecodeError as err:
        raise NotRectified(f"messages is not JSON: {err}") from None
    if not isinstance(messages, list):
        raise NotRectified(f"messages is a JSON {type(messages).__name__}, not a list")
    return dump_sft_messages(to_openai_messages(untagged_texts(messages, tools)))


def sft_messages_of(converted: convert.Converted, tools: render.ToolSet | None = None) -> list[dict[str, Any]]:
    """The SFT messages of a converted row, from the converter's untagged texts instead of parsing the
    row again (the conversion's workers call this on every row); `tools` are the row's (SERA's by default).

    A row whose texts held a lone surrogate has it replaced by U+FFFD in `messages` (conversion.md §5),
    and orjson cannot write one: that rare row is built from `messages`, so both exports agree.
    """
    if converted.n_replaced_chars:
        return to_openai_messages(untagged_texts(orjson.loads(converted.messages), tools))
    return to_openai_messages(converted.texts)


# ---------------------------------------------------------------------------------------------
# the file


def default_sft_path(export_path: str) -> str:
    """Where the SFT export goes when the `sft_export_path` var is null: beside the main export, named
    after it (output/sera_rectified.parquet -> output/sera_rectified_sft.parquet, and the same in an s3:// folder)."""
    path = Path(export_path)  # its name only: pathlib would collapse a URI's '//'
    return sibling(export_path, path.stem + "_sft" + path.suffix)

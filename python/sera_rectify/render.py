"""Rendering a converted trajectory as exact strings (spec/conversion.md §5).

convert.py decides what the output holds (§1-§4: parse, pair, submit, reasoning); this module writes it:
each role's tags, the system prompt template, the tool call JSON, the `messages` column, lone surrogates.
Every string here is fixed by the spec byte for byte.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache

from . import jsontext
from .spec import system_prompt_template, tool_schemas

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
OBSERVATION_PREFIX = "OBSERVATION:\n"
SUBMIT = "submit"
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ToolCall:
    """A kept tool call: its name and its arguments as written in the output (json.dumps text)."""

    name: str
    arguments_json: str


@dataclass(frozen=True)
class ToolSet:
    """The tools a source declares (docs/formats.md): their OpenAI schemas, rendered into the system
    message (§5) and the SFT `tools` column as `schemas_json`; the names a call may use (§2); the names
    that end the run (§3's submit); each tool's parameter schemas (for typing text-written arguments)."""

    schemas_json: str
    names: frozenset[str]
    submit_names: frozenset[str]
    parameters: dict[str, dict] = field(compare=False, repr=False)


def tool_set(schemas: list[dict], submit_names: frozenset[str]) -> ToolSet:
    """A ToolSet from OpenAI tool schemas ({"type": "function", "function": {"name", ...}}), written as
    json.dumps writes them (§5: tools.json's list as embedded in the system message)."""
    names = frozenset(schema["function"]["name"] for schema in schemas)
    parameters = {schema["function"]["name"]: schema["function"].get("parameters") or {} for schema in schemas}
    return ToolSet(json.dumps(schemas, ensure_ascii=False), names, submit_names, parameters)


@cache
def sera_tools() -> ToolSet:
    """spec/tools.json: SERA's three tools, ended by submit."""
    return tool_set(tool_schemas(), frozenset({SUBMIT}))


def render_system(source_system: str, tools: ToolSet | None = None) -> str:
    """The system message: the template with plain string replacement, not str.format (§5), with the
    source's tools (SERA's by default)."""
    schemas_json = (tools or sera_tools()).schemas_json
    return system_prompt_template().replace("{tools_json}", schemas_json).replace("{source_system}", source_system)


def source_system_of(system: str, tools: ToolSet | None = None) -> str | None:
    """The source's own system text inside a rendered system message (render_system read backwards), or
    None when `system` is not one. The SFT rows carry it alone: their template adds tools and protocol."""
    schemas_json = (tools or sera_tools()).schemas_json
    before, _, after = system_prompt_template().replace("{tools_json}", schemas_json).partition("{source_system}")
    if len(system) < len(before) + len(after) or not system.startswith(before) or not system.endswith(after):
        return None
    return system[len(before) : len(system) - len(after)]


def render_reasoning(reasoning: str) -> str:
    return THINK_OPEN + reasoning + THINK_CLOSE


def tool_call(name: str, arguments: dict) -> ToolCall:
    """A kept call with its arguments written once, as the tool_call content and the SFT variant use them."""
    return ToolCall(name, jsontext.dumps_object(arguments))


def render_tool_call(call: ToolCall) -> str:
    """json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False) in tool_call tags (§5);
    the arguments are already written (ToolCall.arguments_json = jsontext.dumps_object(arguments))."""
    return f'<tool_call>{{"name": {jsontext.dumps_string(call.name)}, "arguments": {call.arguments_json}}}</tool_call>'


def strip_observation_prefix(text: str) -> str:
    """Remove ONE leading "OBSERVATION:\\n" (SWE-agent's label, not tool output); keep the rest verbatim."""
    return text[len(OBSERVATION_PREFIX) :] if text.startswith(OBSERVATION_PREFIX) else text


def render_tool_output(text: str) -> str:
    """The tool output without SWE-agent's label, in tool_response tags (§5)."""
    return "<tool_response>" + text + "</tool_response>"


def render_answer(text: str) -> str:
    return "<answer>" + text + "</answer>"


def replace_lone_surrogates(text: str) -> tuple[str, int]:
    """Replace each lone surrogate with U+FFFD (§5): it cannot be written as UTF-8.

    Returns the text and the number of replacements; an ASCII-only text (the common case) costs nothing.
    """
    if text.isascii():
        return text, 0
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return LONE_SURROGATE.subn("\ufffd", text)
    return text, 0


def dump_messages(messages: list[dict[str, str]]) -> str:
    """The `messages` column: json.dumps(messages, ensure_ascii=False), default separators, key
    order role then content (§5).

    Only the content needs escaping: the role is one of the six output role names (plain ASCII
    words), so one fast dumps_string per message does what dumps_object's four would.
    """
    return "[" + ", ".join(f'{{"role": "{m["role"]}", "content": {jsontext.dumps_string(m["content"])}}}' for m in messages) + "]"

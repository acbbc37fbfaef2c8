"""Assistant turns whose action is written in the text, and the scaffold's own turns (docs/formats.md).

The text formats write each action inside the assistant's text (a fenced block, <command>...</command>,
<function=NAME><parameter=P>...</parameter></function>); these functions turn such turns into OpenAI
tool calls with the observation as the `tool` turn. The scaffold's turns that break the strict sequence
(format-error replies, OpenHands' nudges, SWE-agent's demonstrations) are dropped and counted here, and
parallel calls are split into steps, so §1-§4 of spec/conversion.md apply unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from . import jsontext
from .render import ToolSet

FUNCTION_CALL = re.compile(r"<function=([^>\s]+)>(.*?)</function>", re.S)
PARAMETER = re.compile(r"<parameter=([^>\s]+)>(.*?)</parameter>", re.S)
FENCED_BLOCK = re.compile(r"```[^\n`]*\n(.*?)```", re.S)
COMMAND_BLOCK = re.compile(r"<command>\n?(.*?)</command>", re.S)


def text_around(text: str, action: re.Match) -> str:
    """An assistant text without its action block: the reasoning (the text after a block is rare, but
    it is the model's too)."""
    return text[: action.start()] + text[action.end() :]


def xml_parameter_value(text: str, schema: dict | None) -> Any:
    """One <parameter=P> value: SWE-smith writes a multi-line value between a newline after the opening
    tag and one before the closing tag (`<parameter=old_str>\\nX\\n</parameter>`): those two go. A
    parameter the tool declares as integer, number, boolean or array is read as JSON when it parses as
    that type (`<parameter=view_range>[1, 50]</parameter>`); anything else stays text."""
    if text.startswith("\n") and text.endswith("\n") and len(text) >= 2:
        text = text[1:-1]
    kind = schema.get("type") if isinstance(schema, dict) else None
    if kind in ("integer", "number", "boolean", "array"):
        try:
            value = jsontext.loads_exact(text)
        except ValueError:
            return text
        types = {"integer": int, "number": (int, float), "boolean": bool, "array": list}[kind]
        if isinstance(value, types) and not (kind != "boolean" and isinstance(value, bool)):
            return value
    return text


def xml_function_call(text: str, tools: ToolSet) -> tuple[str, dict] | None:
    """The last <function=NAME>...</function> block of an assistant text: (the reasoning: the text around
    it, so no model text is lost; the OpenAI tool call), or None when the text holds no complete block."""
    matches = list(FUNCTION_CALL.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    properties = tools.parameters.get(last[1], {}).get("properties") or {}
    arguments = {name: xml_parameter_value(value, properties.get(name)) for name, value in PARAMETER.findall(last[2])}
    return text_around(text, last), {"function": {"name": last[1], "arguments": arguments}}


def text_action(message: dict, text: str) -> tuple[str, str] | None:
    """(reasoning, command) of an assistant turn whose action is written in its text: SWE-agent's own
    parse when the .traj kept it (`thought`, `action`), else the last fenced block or <command> block.
    None when the turn holds no action (SWE-agent answered it with a format error)."""
    action = message.get("action")
    if isinstance(action, str) and action.strip():
        thought = message.get("thought")
        return (thought if isinstance(thought, str) else ""), action.strip("\n")
    matches = list(FENCED_BLOCK.finditer(text)) or list(COMMAND_BLOCK.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    return text_around(text, last), last[1].strip("\n")


def command_call(command: str, tools: ToolSet) -> dict:
    """A typed command as a tool call: the submit command alone is the submit tool, anything else runs in
    the shell: {"name": "bash", "arguments": {"command": ...}}."""
    if command.strip() in tools.submit_names:
        return {"function": {"name": command.strip(), "arguments": {}}}
    return {"function": {"name": "bash", "arguments": {"command": command}}}


def content_text(message: dict) -> str:
    """The text of a turn for action parsing (string content, or the text parts of a list)."""
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text") or "" for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    return content if isinstance(content, str) else ""


def with_text_actions(turns: list[dict], tools: ToolSet, parse: Callable[[dict, str], tuple[str, dict] | None]) -> tuple[list[dict], int]:
    """Turns whose actions are written in the text, as OpenAI messages: an assistant turn with an action
    becomes reasoning text + one tool call, and the user turn right after it is that call's `tool` output.
    An assistant turn without an action stays a text-only message (§4 folds it), and a user turn right
    after it is the scaffold's format-error reply: dropped and counted. Returns the messages and that count."""
    messages: list[dict] = []
    n_format_errors = 0
    after_call = False
    for index, turn in enumerate(turns):
        role = turn.get("role")
        if index < 2 or role not in ("assistant", "user"):
            messages.append(turn)
            after_call = False
            continue
        if role == "user":
            if after_call:
                messages.append({"role": "tool", "content": turn.get("content")})
            elif messages and messages[-1].get("role") == "assistant":
                n_format_errors += 1
            else:
                messages.append(turn)
            after_call = False
            continue
        parsed = parse(turn, content_text(turn))
        if parsed is None:
            messages.append({"role": "assistant", "content": turn.get("content")})
            after_call = False
        else:
            reasoning, call = parsed
            messages.append({"role": "assistant", "content": reasoning, "tool_calls": [call]})
            after_call = True
    return messages, n_format_errors


def without_demonstrations(turns: list[dict]) -> list[dict]:
    """SWE-agent 0.x puts a demonstration (a whole example run) into a user turn marked `is_demo`
    before the task: an in-context example of the scaffold, the same for every run, not this run's
    trajectory; it is left out (docs/formats.md)."""
    return [turn for turn in turns if not turn.get("is_demo")]


def split_parallel_calls(messages: list[dict]) -> list[dict]:
    """OpenAI function calling allows several calls in one assistant turn, answered by one tool turn
    each. The strict format has one call per step, so such a turn becomes consecutive steps: the first
    keeps the turn's text, each call is followed by its own output (matched by tool_call_id, else by
    position)."""
    result: list[dict] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        calls = message.get("tool_calls")
        if message.get("role") != "assistant" or not isinstance(calls, list) or len(calls) < 2:
            result.append(message)
            index += 1
            continue
        outputs = []
        end = index + 1
        while end < len(messages) and messages[end].get("role") == "tool":
            outputs.append(messages[end])
            end += 1
        by_id = {output.get("tool_call_id"): output for output in outputs if output.get("tool_call_id")}
        for position, call in enumerate(calls):
            call_id = call.get("id") if isinstance(call, dict) else None
            output = by_id.get(call_id) if call_id in by_id else (outputs[position] if position < len(outputs) else None)
            result.append({"role": "assistant", "content": message.get("content") if position == 0 else "", "tool_calls": [call]})
            if output is not None:
                result.append(output)
        index = end
    return result


def without_nudges(messages: list[dict]) -> tuple[list[dict], int]:
    """OpenHands answers an assistant reply without a tool call with a user nudge ("Please continue
    working on the task on whatever approach you think is suitable. ..."): scaffold text, not the task.
    A user turn after the preamble that directly follows a text-only assistant turn is dropped and
    counted; the reply itself stays (§4 folds it into the next reasoning). Any other later user turn
    stays and is rejected by §1."""
    result: list[dict] = []
    n_nudges = 0
    for index, message in enumerate(messages):
        previous = result[-1] if result else None
        if (
            index >= 2
            and message.get("role") == "user"
            and previous is not None
            and previous.get("role") == "assistant"
            and not previous.get("tool_calls")
        ):
            n_nudges += 1
            continue
        result.append(message)
    return result, n_nudges

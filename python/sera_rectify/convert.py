"""One source trajectory in, one rectified trajectory or one reject out (spec/conversion.md §1-§6).

The rules of §1-§4 are here; the exact strings of §5 are render.py's.

Each rule of the spec is one small pure function below, named for the rule. A rule that finds a
problem raises `Rejected`; `convert_trajectory` turns that into a `Reject` value, so callers never
see an exception for bad data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from . import jsontext, reasons
from .reasons import Rejected
from .render import (
    THINK_CLOSE,
    THINK_OPEN,
    ToolCall,
    ToolSet,
    dump_messages,
    render_answer,
    render_reasoning,
    render_system,
    render_tool_call,
    render_tool_output,
    replace_lone_surrogates,
    sera_tools,
    strip_observation_prefix,
    tool_call,
)
from .spec import reasoning_templates

ROLES = ("system", "user", "assistant", "tool")


@dataclass(frozen=True)
class Reject:
    """A source row that cannot be converted: the reason code and a human detail."""

    reason: str
    detail: str


@dataclass(frozen=True)
class Converted:
    """A converted trajectory: the `messages` JSON string and the per-row statistics.

    `texts` holds each output message's content before its tags are added (a ToolCall for a
    tool_call), in message order, with the source's own system text first (not the rendered system
    message); sft.py builds the SFT-ready variant from them instead of parsing `messages` again. It
    may still hold lone surrogates, which `messages` has replaced (§5).
    """

    messages: str
    n_messages: int
    n_tool_calls: int
    n_trimmed_submits: int
    n_folded_texts: int
    n_filled_reasoning: int
    n_replaced_chars: int
    texts: tuple[str | ToolCall, ...] = field(default=(), compare=False, repr=False)


@dataclass
class Step:
    """An assistant tool call and the tool message right after it (conversion.md §2)."""

    index: int
    reasoning: str
    name: str
    arguments: dict
    output: str | None
    folded: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TextOnly:
    """An assistant message without a tool call; its reasoning is folded (conversion.md §4)."""

    index: int
    reasoning: str


# ---------------------------------------------------------------------------------------------
# §1 Parse


def load_messages(raw: Any, column: str = "messages") -> list[dict]:
    """Decode the `messages` column into a list of message objects (§1, first bullet).

    The published column is a JSON string; a JSON array given directly is accepted as that list.
    Lone surrogate escapes parse (they are replaced later, §5); NaN and Infinity do not. `column`
    names the source's column in the details (a format adapter reads `history` or `trajectory`).
    """
    if raw is None or raw == "":
        raise Rejected(reasons.MESSAGES_MISSING, f"{column} is null or an empty string")
    if isinstance(raw, str):
        text = raw
        try:
            raw = jsontext.loads(text)
            if object_arguments_hold_a_float(raw):
                raw = jsontext.loads_exact(text)
        except ValueError as err:
            raise Rejected(reasons.MESSAGES_NOT_JSON, f"{column} is not valid JSON: {err}") from None
    if not isinstance(raw, list) or not all(isinstance(m, dict) for m in raw):
        raise Rejected(reasons.MESSAGES_NOT_A_LIST, f"{column} is {jsontext.json_type_name(raw)}, not an array of objects")
    if not raw:
        raise Rejected(reasons.MESSAGES_EMPTY, f"{column} is an empty list")
    return raw


def object_arguments_hold_a_float(messages: Any) -> bool:
    """True when a tool call's arguments, given as an object, hold a float: the fast parse may have
    read an integer beyond 64 bits as one, and arguments are written back (§5). Everything else the
    converter writes is text, so only these need the exact (slower) parse."""
    if not isinstance(messages, list):
        return False
    for message in messages:
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        for call in calls if isinstance(calls, list) else ():
            function = call.get("function") if isinstance(call, dict) else None
            arguments = function.get("arguments") if isinstance(function, dict) else None
            if isinstance(arguments, dict) and jsontext.contains_float(arguments):
                return True
    return False


def check_roles(messages: list[dict]) -> list[str]:
    """Every message must be system, user, assistant or tool (§1); returns the roles."""
    roles = [m.get("role") for m in messages]
    for index, role in enumerate(roles):
        if role not in ROLES:
            raise Rejected(reasons.UNKNOWN_ROLE, f"message {index} has role {role!r}")
    return roles


def flatten_content(content: Any, index: int) -> str:
    """Content as one text (§1): a string as is, text parts concatenated, null as "".

    Only text parts are understood; an image or any other part would be silently lost, so it rejects.
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                kind = repr(part.get("type")) if isinstance(part, dict) else jsontext.json_type_name(part)
                raise Rejected(reasons.UNSUPPORTED_CONTENT_PART, f"message {index} has a content part of type {kind}")
            text = part.get("text")
            if text is None:
                text = ""
            if not isinstance(text, str):
                raise Rejected(reasons.UNSUPPORTED_CONTENT_PART, f"message {index} has a text part whose text is not a string")
            texts.append(text)
        return "".join(texts)
    raise Rejected(reasons.UNSUPPORTED_CONTENT_PART, f"message {index} has content that is {jsontext.json_type_name(content)}")


def check_preamble(roles: list[str]) -> None:
    """Message 0 is system, message 1 is user, and neither role appears again (§1)."""
    if len(roles) < 2 or roles[0] != "system" or roles[1] != "user":
        raise Rejected(reasons.BAD_PREAMBLE, f"messages 0 and 1 are {roles[:2]}, expected ['system', 'user']")
    for index in range(2, len(roles)):
        if roles[index] == "user":
            raise Rejected(reasons.UNEXPECTED_USER_MESSAGE, f"message {index} is a user message after the preamble")
        if roles[index] == "system":
            raise Rejected(reasons.UNEXPECTED_SYSTEM_MESSAGE, f"message {index} is a system message after the preamble")


# ---------------------------------------------------------------------------------------------
# §2 Pair calls with outputs


def parse_tool_arguments(arguments: Any, index: int) -> dict:
    """Arguments as an object (§2): a JSON string is parsed, an object kept, null or "" is {}.

    The values are written back (§5), so numbers must come back exactly: jsontext.loads_exact.
    """
    if arguments is None or arguments == "":
        return {}
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str):
        try:
            parsed = jsontext.loads_exact(arguments)
        except ValueError:
            raise Rejected(reasons.MALFORMED_TOOL_ARGUMENTS, f"message {index}: tool arguments are not valid JSON") from None
        if isinstance(parsed, dict):
            return parsed
        kind = jsontext.json_type_name(parsed)
    else:
        kind = jsontext.json_type_name(arguments)
    raise Rejected(reasons.MALFORMED_TOOL_ARGUMENTS, f"message {index}: tool arguments are {kind}, not an object")


def tool_call_of(message: dict, index: int) -> dict | None:
    """The one tool call of an assistant message, or None for a text-only message (§2)."""
    calls = message.get("tool_calls")
    if calls is None or calls == []:
        return None
    if not isinstance(calls, list):
        raise Rejected(reasons.UNKNOWN_TOOL, f"message {index}: tool_calls is {jsontext.json_type_name(calls)}, not an array")
    if len(calls) > 1:
        raise Rejected(reasons.PARALLEL_TOOL_CALLS, f"message {index} has {len(calls)} tool calls")
    call = calls[0]
    function = call.get("function") if isinstance(call, dict) else None
    return function if isinstance(function, dict) else {}


def tool_name_of(function: dict, index: int, tools: ToolSet) -> str:
    """The called tool's name, which must be one the source declares: spec/tools.json for SERA (§2)."""
    name = function.get("name")
    if not isinstance(name, str) or name not in tools.names:
        raise Rejected(reasons.UNKNOWN_TOOL, f"message {index} calls unknown tool {name!r}")
    return name


def reasoning_source(message: dict, content: str) -> str:
    """`thought` when it holds non-whitespace text, else the flattened content (§4, never both)."""
    thought = message.get("thought")
    if isinstance(thought, str) and thought.strip():
        return thought
    return content


def pair_steps(messages: list[dict], texts: list[str], tools: ToolSet) -> list[Step | TextOnly]:
    """Walk messages 2..end pairing each tool call with the tool message right after it (§2).

    Pairing is by position: tool_call ids repeat in real trajectories. A call without an output is
    allowed only for a final submit followed by nothing but text-only messages.
    """
    items: list[Step | TextOnly] = []
    index = 2
    while index < len(messages):
        message = messages[index]
        if message["role"] == "tool":
            raise Rejected(reasons.ORPHAN_TOOL_OUTPUT, f"message {index} is a tool output without a tool call right before it")
        reasoning = extract_reasoning(reasoning_source(message, texts[index]))
        function = tool_call_of(message, index)
        if function is None:
            items.append(TextOnly(index, reasoning))
            index += 1
            continue
        name = tool_name_of(function, index, tools)
        arguments = parse_tool_arguments(function.get("arguments"), index)
        has_output = index + 1 < len(messages) and messages[index + 1]["role"] == "tool"
        if not has_output and not (name in tools.submit_names and only_text_only_after(messages, index)):
            raise Rejected(reasons.MISSING_TOOL_OUTPUT, f"message {index} calls {name!r} but no tool output follows")
        items.append(Step(index, reasoning, name, arguments, texts[index + 1] if has_output else None))
        index += 2 if has_output else 1
    return items


def only_text_only_after(messages: list[dict], index: int) -> bool:
    """True when every message after `index` is an assistant message without tool calls."""
    return all(m["role"] == "assistant" and not m.get("tool_calls") for m in messages[index + 1 :])


# ---------------------------------------------------------------------------------------------
# §3 Submit


def trailing_submit_run_start(steps: list[Step], submit_names: frozenset[str]) -> int:
    """Index (in `steps`) of the first step of the trailing run of submits (§3).

    No trailing submit means the agent never finished (e.g. "Exit due to cost limit").
    """
    if not steps or steps[-1].name not in submit_names:
        where = f"the last tool call (message {steps[-1].index}) is {steps[-1].name!r}" if steps else "there is no tool call"
        raise Rejected(reasons.NOT_SUBMITTED, f"no trailing submit: {where}")
    start = len(steps) - 1
    while start > 0 and steps[start - 1].name in submit_names:
        start -= 1
    return start


def answer_text(rollout_patch: str | None, last_submit: Step) -> str:
    """The answer (§3): the row's rollout_patch when not null, else the last submit's output."""
    if rollout_patch is not None:
        return rollout_patch
    if last_submit.output is None:
        return ""
    return strip_observation_prefix(last_submit.output)


# ---------------------------------------------------------------------------------------------
# §4 Reasoning


def extract_reasoning(text: str) -> str:
    """The reasoning text R of one assistant message (§4).

    Inner texts of the <think> blocks first (an unclosed block runs to the end), then the
    commentary outside them, each stripped, joined by a blank line: no model text is lost.
    """
    blocks: list[str] = []
    outside: list[str] = []
    position = 0
    while True:
        start = text.find(THINK_OPEN, position)
        if start == -1:
            outside.append(text[position:])
            break
        outside.append(text[position:start])
        end = text.find(THINK_CLOSE, start + len(THINK_OPEN))
        if end == -1:
            blocks.append(text[start + len(THINK_OPEN) :])
            break
        blocks.append(text[start + len(THINK_OPEN) : end])
        position = end + len(THINK_CLOSE)
    if not blocks:
        return text.strip()
    return join_reasoning([block.strip() for block in blocks] + ["".join(outside).strip()])


def join_reasoning(pieces: list[str]) -> str:
    """Join reasoning pieces with a blank line, skipping empty ones (§4)."""
    return "\n\n".join(piece for piece in pieces if piece)


def fold_text_only_messages(items: list[Step | TextOnly]) -> tuple[list[Step], list[TextOnly]]:
    """Attach each text-only message to the next step (§4, folding).

    Returns the steps, each with its `folded` texts, and the text-only messages after the last
    step (those go to the answer's reasoning).
    """
    steps: list[Step] = []
    pending: list[TextOnly] = []
    for item in items:
        if isinstance(item, TextOnly):
            pending.append(item)
        else:
            item.folded = [text.reasoning for text in pending]
            steps.append(item)
            pending = []
    return steps, pending


def template_index(dataset: str, instance_id: str | None, position: int) -> int:
    """Which of the 12 templates fills an empty reasoning (§4): stable on every machine and run."""
    key = f"{dataset}\n{instance_id or ''}\n{position}".encode()
    return int(hashlib.sha256(key).hexdigest(), 16) % len(reasoning_templates())


def fill_empty_reasoning(reasoning: str, dataset: str, instance_id: str | None, position: int) -> str:
    """An empty reasoning gets a template text, so every reasoning message says something (§4)."""
    if reasoning:
        return reasoning
    return reasoning_templates()[template_index(dataset, instance_id, position)]


# ---------------------------------------------------------------------------------------------
# The whole row


def convert_trajectory(
    raw_messages: Any, *, dataset: str, instance_id: str | None, rollout_patch: str | None, tools: ToolSet | None = None
) -> Converted | Reject:
    """Apply §1-§5 to one source trajectory; return the converted row or the first rule it breaks.
    `tools` are the source's tools (formats.py); SERA's spec/tools.json by default."""
    try:
        return _convert(raw_messages, dataset, instance_id, rollout_patch, tools or sera_tools())
    except Rejected as rejected:
        return Reject(rejected.reason, rejected.detail)


def _convert(raw_messages: Any, dataset: str, instance_id: str | None, rollout_patch: str | None, tools: ToolSet) -> Converted:
    messages = load_messages(raw_messages)
    roles = check_roles(messages)
    texts = [flatten_content(m.get("content"), index) for index, m in enumerate(messages)]
    check_preamble(roles)
    steps, trailing_texts = fold_text_only_messages(pair_steps(messages, texts, tools))
    run_start = trailing_submit_run_start(steps, tools.submit_names)
    kept, answer_step = steps[:run_start], steps[run_start]

    system = render_system(texts[0], tools)
    out = [{"role": "system", "content": system}, {"role": "user", "content": texts[1]}]
    untagged: list[str | ToolCall] = [texts[0], texts[1]]
    n_filled = 0

    def add_reasoning(pieces: list[str]) -> None:
        nonlocal n_filled
        reasoning = join_reasoning(pieces)
        filled = fill_empty_reasoning(reasoning, dataset, instance_id, len(out))
        n_filled += filled != reasoning
        out.append({"role": "reasoning", "content": render_reasoning(filled)})
        untagged.append(filled)

    for step in kept:
        add_reasoning(step.folded + [step.reasoning])
        call = tool_call(step.name, step.arguments)
        output = strip_observation_prefix(step.output)
        out.append({"role": "tool_call", "content": render_tool_call(call)})
        out.append({"role": "tool_output", "content": render_tool_output(output)})
        untagged += [call, output]
    add_reasoning(answer_step.folded + [answer_step.reasoning] + [text.reasoning for text in trailing_texts])
    answer = answer_text(rollout_patch, steps[-1])
    out.append({"role": "answer", "content": render_answer(answer)})
    untagged.append(answer)

    text, n_replaced = replace_lone_surrogates(dump_messages(out))
    return Converted(
        messages=text,
        n_messages=len(out),
        n_tool_calls=len(kept),
        n_trimmed_submits=len(steps) - run_start - 1,
        n_folded_texts=sum(len(step.folded) for step in kept) + len(answer_step.folded) + len(trailing_texts),
        n_filled_reasoning=n_filled,
        n_replaced_chars=n_replaced,
        texts=tuple(untagged),
    )

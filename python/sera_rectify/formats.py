"""Source formats: one small adapter per way a trajectory dataset writes its actions (docs/formats.md).

Every adapter maps one source row (a JSON Lines / JSON / Parquet row object, or the object of a `.traj`
file) onto the converter's input, a `Trajectory`: OpenAI-shaped chat messages (system, user, then
assistant turns with at most one `tool_calls` entry and `tool` turns with the output), the tools the
source declares, the names that end the run, the row's own final patch and its metadata. The rules of
spec/conversion.md (convert.py) then apply to every format alike.

    sera            SERA's rows and .traj files: today's rules and spec/tools.json, byte for byte
    swe-agent       OpenAI function calling (`tool_calls`), any tool bundle: SWE-agent 1.x .traj files
                    (tools from the run's own `replay_config` command docs) and rows with a `tools` column
    swe-agent-text  the action written in the assistant's text: a fenced block (SWE-agent 0.x, nebius
                    rows) or <command>...</command> (SWE-agent's XML demonstrations)
    swe-smith-xml   <function=NAME><parameter=P>...</parameter></function> in the text (SWE-smith rows),
                    tools from the function list in the system prompt
    openhands       OpenAI function calling with the row's `tools` (execute_bash, str_replace_editor,
                    think, finish ...); the run ends with `finish`

The pieces the adapters share are in actions.py (actions written in the text, the scaffold's own turns)
and tool_lists.py (the tool lists sources declare). A problem an adapter finds raises reasons.Rejected: a
reject row with a reason, never a failed build.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from . import reasons
from .actions import (
    COMMAND_BLOCK,
    FENCED_BLOCK,
    command_call,
    content_text,
    split_parallel_calls,
    text_action,
    with_text_actions,
    without_demonstrations,
    without_nudges,
    xml_function_call,
)
from .convert import load_messages
from .reasons import Rejected
from .render import SUBMIT, ToolSet, sera_tools, tool_set
from .spec import tool_schemas
from .tool_lists import declared_tools, function_list_tools, replay_config, traj_tools

SERA = "sera"
SWE_AGENT = "swe-agent"
SWE_AGENT_TEXT = "swe-agent-text"
SWE_SMITH_XML = "swe-smith-xml"
OPENHANDS = "openhands"
FORMATS = (SERA, SWE_AGENT, SWE_AGENT_TEXT, SWE_SMITH_XML, OPENHANDS)

FINISH = "finish"
# the row columns that hold a run's final patch, in the order they are looked for
PATCH_COLUMNS = ("patch", "model_patch", "generated_patch")
# the row columns that name the model that wrote the run
MODEL_COLUMNS = ("model", "model_name")
# SWE-agent's stand-ins for a model (a replayed demonstration, a person): no teacher
NOT_MODELS = frozenset({"replay", "human", "human_thought", "instant_empty_submit"})


@cache
def text_action_tools() -> ToolSet:
    """The swe-agent-text format's tools: every action typed into the shell is a `bash` call (SWE-agent
    0.x's special commands are shell functions), `submit` ends the run; both schemas from spec/tools.json."""
    return tool_set([schema for schema in tool_schemas() if schema["function"]["name"] in ("bash", SUBMIT)], frozenset({SUBMIT}))


@dataclass(frozen=True)
class Trajectory:
    """A source row in the converter's input shape (see the module docstring)."""

    messages: Any
    tools: ToolSet
    # the row's final patch as the row holds it (output_row writes a non-string value as JSON text)
    patch: Any = None
    teacher: str | None = None
    resolved: bool | None = None
    exit_status: str | None = None
    n_dropped_nudges: int = 0
    n_dropped_format_errors: int = 0


# ---------------------------------------------------------------------------------------------
# Helpers shared by the adapters


def is_traj(record: dict) -> bool:
    """A SWE-agent .traj object (its turns are `history`), not a row with `messages`."""
    return "history" in record and "messages" not in record


def is_nebius(record: dict) -> bool:
    """A nebius / SWE-agent 0.x row: its turns are `trajectory` (a .traj's `trajectory` is its step log)."""
    return "trajectory" in record and "messages" not in record and not is_traj(record)


def text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def row_patch(record: dict) -> str | None:
    """The run's own final patch: the first of PATCH_COLUMNS that holds a string, else a .traj's
    `info.submission`, else OpenHands' `test_result.git_patch`."""
    for column in PATCH_COLUMNS:
        if isinstance(record.get(column), str):
            return record[column]
    for holder, key in (("info", "submission"), ("test_result", "git_patch")):
        value = record.get(holder)
        if isinstance(value, dict) and isinstance(value.get(key), str):
            return value[key]
    return None


def row_teacher(record: dict) -> str | None:
    """The model that wrote the run, when the row names it (`model`, `model_name`, a .traj's
    replay_config agent.model.name); else None and the dataset's declared teacher applies."""
    for column in MODEL_COLUMNS:
        if isinstance(record.get(column), str) and record[column]:
            return record[column]
    model = replay_config(record).get("agent", {}).get("model", {})
    name = text_or_none(model.get("name")) if isinstance(model, dict) else None
    return None if name in NOT_MODELS else name


def row_resolved(record: dict) -> bool | None:
    """Whether the source says the run resolved its task (`resolved`, nebius' `target`)."""
    for column in ("resolved", "target"):
        if isinstance(record.get(column), bool):
            return record[column]
    return None


def row_exit_status(record: dict) -> str | None:
    info = record.get("info")
    return text_or_none(record.get("exit_status")) or (text_or_none(info.get("exit_status")) if isinstance(info, dict) else None)


def messages_of(record: dict, column: str) -> list[dict]:
    """The row's turns in `column`, parsed and checked as §1 checks `messages`."""
    return load_messages(record.get(column), column)


# ---------------------------------------------------------------------------------------------
# The adapters


def adapt_sera(record: dict) -> Trajectory:
    """SERA: the row's `messages` and `rollout_patch`; a .traj's `history` and `info.submission`."""
    if is_traj(record):
        return Trajectory(record.get("history"), sera_tools(), patch=row_patch(record))
    return Trajectory(record.get("messages"), sera_tools(), patch=record.get("rollout_patch"))


def adapt_swe_agent(record: dict) -> Trajectory:
    """OpenAI function calling with the source's own tools: the row's `tools` column, else a .traj's
    replay_config command docs; a source that declares none cannot be checked: a reject."""
    tools = declared_tools(record.get("tools"), frozenset({SUBMIT})) or traj_tools(record)
    if tools is None:
        raise Rejected(reasons.TOOLS_NOT_DECLARED, "no tools column and no replay_config command docs")
    messages = messages_of(record, "history" if is_traj(record) else "messages")
    return Trajectory(split_parallel_calls(without_demonstrations(messages)), tools, **row_metadata(record))


def adapt_swe_agent_text(record: dict) -> Trajectory:
    """Actions in the text: nebius rows (`trajectory` of system/user/ai turns, the system prompt in the
    first turn's `system_prompt`), or a .traj's history; every action is a bash call but the submit command."""
    tools = text_action_tools()
    if is_nebius(record):
        turns = [as_chat_turn(turn) for turn in messages_of(record, "trajectory")]
    else:
        turns = messages_of(record, "history" if is_traj(record) else "messages")
    turns = without_demonstrations(turns)

    def parse(message: dict, text: str) -> tuple[str, dict] | None:
        action = text_action(message, text)
        return None if action is None else (action[0], command_call(action[1], tools))

    messages, n_format_errors = with_text_actions(turns, tools, parse)
    return Trajectory(messages, tools, n_dropped_format_errors=n_format_errors, **row_metadata(record))


def as_chat_turn(turn: dict) -> dict:
    """A nebius turn ({role: system/user/ai, text, system_prompt}) as a chat message."""
    role = {"ai": "assistant"}.get(turn.get("role"), turn.get("role"))
    text = turn.get("system_prompt") if role == "system" and turn.get("text") is None else turn.get("text")
    return {"role": role, "content": text}


def adapt_swe_smith_xml(record: dict) -> Trajectory:
    """<function=NAME> calls in the text, tools from the system prompt's function list."""
    messages = messages_of(record, "messages")
    system = content_text(messages[0]) if messages else ""
    schemas = function_list_tools(system)
    if not schemas:
        raise Rejected(reasons.TOOLS_NOT_DECLARED, "the system prompt lists no '---- BEGIN FUNCTION' block")
    tools = tool_set(schemas, frozenset({SUBMIT}))
    converted, n_format_errors = with_text_actions(messages, tools, lambda _message, text: xml_function_call(text, tools))
    return Trajectory(converted, tools, n_dropped_format_errors=n_format_errors, **row_metadata(record))


def adapt_openhands(record: dict) -> Trajectory:
    """OpenAI function calling with the row's `tools`, ended by `finish`; nudges dropped."""
    tools = declared_tools(record.get("tools"), frozenset({FINISH}))
    if tools is None:
        raise Rejected(reasons.TOOLS_NOT_DECLARED, "the row has no tools column")
    messages, n_nudges = without_nudges(split_parallel_calls(messages_of(record, "messages")))
    check_not_cut_off(messages, tools)
    return Trajectory(messages, tools, n_dropped_nudges=n_nudges, **row_metadata(record))


def check_not_cut_off(messages: list[dict], tools: ToolSet) -> None:
    """An OpenHands run stopped by its iteration limit ends with a call that was never run (no output
    follows). It did not finish: `not_submitted`, saying so, rather than §2's `missing_tool_output`."""
    last = messages[-1] if messages else {}
    calls = last.get("tool_calls") if last.get("role") == "assistant" else None
    function = calls[0].get("function") if isinstance(calls, list) and calls and isinstance(calls[0], dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    if name is not None and name not in tools.submit_names:
        raise Rejected(reasons.NOT_SUBMITTED, f"the run ends with a call to {name!r} that was never run (stopped by the iteration limit)")


def row_metadata(record: dict) -> dict[str, Any]:
    return {
        "patch": row_patch(record),
        "teacher": row_teacher(record),
        "resolved": row_resolved(record),
        "exit_status": row_exit_status(record),
    }


ADAPTERS: dict[str, Callable[[dict], Trajectory]] = {
    SERA: adapt_sera,
    SWE_AGENT: adapt_swe_agent,
    SWE_AGENT_TEXT: adapt_swe_agent_text,
    SWE_SMITH_XML: adapt_swe_smith_xml,
    OPENHANDS: adapt_openhands,
}


def adapt(record: dict, source_format: str) -> Trajectory:
    """The row in the converter's input shape; raises Rejected for a row the format cannot read."""
    return ADAPTERS[source_format](record)


# ---------------------------------------------------------------------------------------------
# Detection (the `convert` command without --format)


def called_tool_names(messages: Any) -> set[str]:
    names = set()
    for message in messages if isinstance(messages, list) else ():
        for call in message.get("tool_calls") or () if isinstance(message, dict) else ():
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict) and isinstance(function.get("name"), str):
                names.add(function["name"])
    return names


def assistant_texts(messages: Any) -> list[str]:
    return [content_text(m) for m in messages if isinstance(m, dict) and m.get("role") == "assistant"] if isinstance(messages, list) else []


def detect_format(record: dict) -> tuple[str, str]:
    """The format a row looks written in, and why (reported on stderr by `convert`). In order: a
    `trajectory` column is swe-agent-text; a `messages` JSON string is SERA's; tool calls to
    `finish` or with a `tools` column declaring it are openhands; tool calls within SERA's tools are
    sera, other tool calls swe-agent; `<function=` in the assistant text is swe-smith-xml; a fenced
    or <command> block (or a .traj's parsed `action`) is swe-agent-text; anything else is sera."""
    if is_nebius(record):
        return SWE_AGENT_TEXT, "the row has a `trajectory` column (SWE-agent 0.x turns)"
    messages = record.get("history") if is_traj(record) else record.get("messages")
    if isinstance(messages, str):
        return SERA, "`messages` is a JSON string (SERA's published layout)"
    names = called_tool_names(messages)
    declared = record.get("tools") if isinstance(record.get("tools"), list) else []
    declared_names = {t.get("function", {}).get("name") for t in declared if isinstance(t, dict) and isinstance(t.get("function"), dict)}
    if FINISH in names or FINISH in declared_names:
        return OPENHANDS, "tool calls ended by `finish` (OpenHands)"
    if names:
        if names <= sera_tools().names and not declared:
            return SERA, "tool calls only to SERA's tools (bash, str_replace_editor, submit)"
        return SWE_AGENT, f"tool calls to {', '.join(sorted(names - sera_tools().names)) or 'tools the row declares'}"
    texts = assistant_texts(messages)
    if any("<function=" in text for text in texts):
        return SWE_SMITH_XML, "`<function=...>` calls in the assistant text"
    if any(isinstance(m, dict) and m.get("action") for m in messages or ()) or any(
        FENCED_BLOCK.search(text) or COMMAND_BLOCK.search(text) for text in texts
    ):
        return SWE_AGENT_TEXT, "actions written in the assistant text (fenced or <command> blocks)"
    return SERA, "no tool call found in any form: read with SERA's rules"

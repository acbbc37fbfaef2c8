"""Property tests (hypothesis): generated SWE-agent histories in, one converted row or one reject out.

- Valid histories, shaped like the real rows (system, user, assistant/tool pairs with bash /
  str_replace_editor / submit, <think> blocks with commentary, text-only messages, a submit -> review ->
  clean-up cycle, a trailing run of submits, content as strings or lists of parts, a missing or empty
  `thought`, arguments as JSON strings or objects), always convert, to exactly the messages a small
  reference model computes from the generator's own description of the history (not from the raw
  messages).
- The same histories with random mutations (dropped, duplicated or non-object messages, swapped or
  unknown roles, unknown tools, broken arguments JSON, None where strings are, other content types,
  parallel calls, extra keys, ~1 MB strings, astral characters, lone surrogates, stray think tags, the
  whole `messages` value replaced) never make the converter raise: it returns exactly one of Converted /
  Reject; a Reject has a known reason and a detail; a Converted row passes an independent checker of
  spec §5-§6 written here.

The profile "ci" (fixed seed, no deadline, no example database) keeps the run reproducible and under a
minute on 2 cores. `SERA_HYPOTHESIS_PROFILE=deep` runs many more random examples locally.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

from sera_rectify.convert import Converted, Reject, convert_trajectory
from sera_rectify.reasons import REJECT_REASONS
from sera_rectify.rows import output_row
from sera_rectify.sft import dump_sft_messages, sft_messages_of, sft_messages_of_json
from sera_rectify.sources import LineReject, SourceFile, parse_line, traj_record
from sera_testkit.constants import EMPTY_OUTPUT, OBSERVATION, PACKAGE_SPEC_DIR, SERA_SYSTEM

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=150,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
settings.register_profile("deep", settings.get_profile("ci"), derandomize=False, max_examples=3000)
settings.load_profile(os.environ.get("SERA_HYPOTHESIS_PROFILE", "ci"))
EXAMPLES = settings.default.max_examples

TOOLS = json.loads((PACKAGE_SPEC_DIR / "tools.json").read_bytes().decode("utf-8"))
TOOL_NAMES = {tool["function"]["name"] for tool in TOOLS}
TEMPLATES = (PACKAGE_SPEC_DIR / "reasoning-templates.txt").read_bytes().decode("utf-8").splitlines()
SYSTEM_HEAD, _, SYSTEM_REST = (PACKAGE_SPEC_DIR / "system-prompt.txt").read_bytes().decode("utf-8").partition("{tools_json}")
SYSTEM_MIDDLE, _, SYSTEM_TAIL = SYSTEM_REST.partition("{source_system}")
TOOLS_JSON = json.dumps(TOOLS, ensure_ascii=False)
REVIEW = "Thank you for your work on this issue. Please carefully follow the steps below to help review your changes.\n\n<diff>\n"
TAGS = {
    "reasoning": ("<think>", "</think>"),
    "tool_call": ("<tool_call>", "</tool_call>"),
    "tool_output": ("<tool_response>", "</tool_response>"),
    "answer": ("<answer>", "</answer>"),
}
NEXT_ROLES = {
    "system": {"user"},
    "user": {"reasoning"},
    "reasoning": {"tool_call", "answer"},
    "tool_call": {"tool_output"},
    "tool_output": {"reasoning"},
    "answer": set(),
}


# ---------------------------------------------------------------------------------------------
# The independent checker of a converted row (spec §5 exact JSON, §6 the FSM)


def refuse_constant(name: str) -> Any:
    raise AssertionError(f"{name} in the output is not JSON")


def check_converted(result: Converted) -> list[dict]:
    """Everything spec §5-§6 says about any output row, checked without the project's code."""
    text = result.messages
    assert isinstance(text, str)
    text.encode("utf-8")  # no lone surrogate survives (§5)
    out = json.loads(text, parse_constant=refuse_constant)
    assert text == json.dumps(out, ensure_ascii=False), "messages is not json.dumps(..., ensure_ascii=False) of itself (§5)"
    assert isinstance(out, list)
    for message in out:
        assert isinstance(message, dict) and list(message) == ["role", "content"] and isinstance(message["content"], str), message
    roles = [message["role"] for message in out]
    assert roles[0] == "system" and roles[-1] == "answer", roles
    for role, following in zip(roles, roles[1:], strict=False):
        assert following in NEXT_ROLES[role], f"{role} -> {following}"
    system = out[0]["content"]
    assert system.startswith(SYSTEM_HEAD + TOOLS_JSON + SYSTEM_MIDDLE) and system.endswith(SYSTEM_TAIL)
    for message in out[2:]:
        start, end = TAGS[message["role"]]
        content = message["content"]
        assert content.startswith(start) and content.endswith(end) and len(content) >= len(start) + len(end), message
        inner = content[len(start) : len(content) - len(end)]
        if message["role"] == "reasoning":
            assert inner.strip(), "empty reasoning (§4: filled from the templates)"
        if message["role"] == "tool_call":
            call = json.loads(inner, parse_constant=refuse_constant)
            assert isinstance(call, dict) and list(call) == ["name", "arguments"], call
            assert isinstance(call["arguments"], dict) and call["name"] in TOOL_NAMES, call
            assert inner == json.dumps(call, ensure_ascii=False)
    assert result.n_messages == len(out) == 3 * result.n_tool_calls + 4
    assert result.n_tool_calls == roles.count("tool_call")
    for count in (result.n_trimmed_submits, result.n_folded_texts, result.n_filled_reasoning, result.n_replaced_chars):
        assert isinstance(count, int) and count >= 0
    assert result.n_filled_reasoning <= roles.count("reasoning")
    return out


def check_outcome(result: Any) -> None:
    """Exactly one of Converted / Reject; a Reject names a known reason and says where."""
    assert type(result) in (Converted, Reject), type(result)
    if isinstance(result, Reject):
        assert result.reason in REJECT_REASONS, result
        assert isinstance(result.detail, str) and result.detail.strip(), result
    else:
        check_converted(result)
        check_sft_variant(result)


def check_sft_variant(result: Converted) -> None:
    """The SFT-ready messages built from the converter's untagged texts (what the pipeline writes)
    equal the ones derived from the `messages` text alone (sft.sft_messages_of_json)."""
    assert dump_sft_messages(sft_messages_of(result)) == sft_messages_of_json(result.messages)


# ---------------------------------------------------------------------------------------------
# Text


SAFE_CHARS = st.characters(exclude_categories=("Cs",))  # every code point but surrogates, astral included
FRAGMENTS = [
    OBSERVATION,
    "\r\n",
    "\n",
    "  ",
    "\t",
    '"',
    "\\",
    "/",
    "</tool_response>",
    "<answer>",
    "<tool_call>",
    "{tools_json}",
    "{source_system}",
    "{}",
    "😀",
    "𝔘",
    "\u2028",
    "\x00",
    "\x1f",
    "\x7f",
    "é",
    "中文",
    "\ufeff",
    "\u200b",
    "\U0010ffff",
    EMPTY_OUTPUT,
]
texts = (
    st.lists(st.one_of(st.text(SAFE_CHARS, max_size=10), st.sampled_from(FRAGMENTS)), max_size=4)
    .map("".join)
    .filter(lambda text: "<think>" not in text and "</think>" not in text)
)
nonblank_texts = texts.filter(lambda text: text.strip() != "")
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False), texts)
json_values = st.recursive(
    json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)), max_leaves=6
)


# ---------------------------------------------------------------------------------------------
# The generator's description of a valid history, and the raw messages it stands for


@dataclass
class Turn:
    """One assistant message (a tool call, or text-only when tool is None) and its tool message."""

    think: str | None  # None: no <think> block
    commentary: str
    unclosed: bool  # "<think>..." without "</think>" (then commentary is "")
    thought_form: str  # same | missing | empty | blank | thought_only
    content_form: str  # str | parts
    tool: str | None
    arguments: dict = field(default_factory=dict)
    arguments_form: str = "json"  # json | json_ascii | object | null | empty
    output: str | None = None  # the raw tool text (prefix included); None: no tool message
    output_form: str = "parts"
    no_call_value: Any = None  # tool_calls of a text-only message: None or []
    call_id: str = "call_0"

    def text(self) -> str:
        if self.think is None:
            return self.commentary
        if self.unclosed:
            return "<think>" + self.think
        return "<think>" + self.think + "</think>" + ("\n" + self.commentary if self.commentary else "")

    def reasoning(self) -> str:
        """R of spec §4, from the description: the think text, then the commentary, each stripped."""
        pieces = [self.commentary.strip()] if self.think is None else [self.think.strip(), self.commentary.strip()]
        return "\n\n".join(piece for piece in pieces if piece)


@dataclass
class History:
    system: str
    system_form: str
    user: str
    user_form: str
    body: list[Turn]  # kept steps (non-submits, and submits followed by a clean-up) and text-only turns
    answer: Turn  # the first submit of the trailing run
    trimmed: list[Turn]  # the rest of the trailing run: submits, and text-only turns between them
    trailing: list[Turn]  # text-only turns after the last submit
    rollout_patch: str | None
    instance_id: str | None
    dataset: str
    as_json_string: bool
    extra_keys: bool


def content_value(text: str, form: str, extra: bool) -> Any:
    if form == "str":
        return text
    if form == "null":
        return None
    cut = len(text) // 2
    parts = (
        [{"type": "text", "text": text}]
        if form == "parts"
        else [{"type": "text", "text": text[:cut]}, {"type": "text", "text": text[cut:]}]
    )
    if extra:
        parts[-1]["cache_control"] = {"type": "ephemeral"}
    return parts


def arguments_value(turn: Turn) -> Any:
    if turn.arguments_form == "json":
        return json.dumps(turn.arguments, ensure_ascii=False)
    if turn.arguments_form == "json_ascii":
        return json.dumps(turn.arguments)
    if turn.arguments_form == "object":
        return copy.deepcopy(turn.arguments)
    return None if turn.arguments_form == "null" else ""


def raw_turn(turn: Turn, extra: bool) -> list[dict]:
    text = turn.text()
    message: dict[str, Any] = {"role": "assistant"}
    if turn.thought_form == "thought_only":
        message["content"], message["thought"] = (None if extra else ""), text
    else:
        message["content"] = content_value(text, turn.content_form, extra)
        if turn.thought_form != "missing":
            message["thought"] = {"same": text, "empty": "", "blank": " \n\t "}[turn.thought_form]
    if turn.tool is None:
        message["tool_calls"] = turn.no_call_value
    else:
        function = {"arguments": arguments_value(turn), "name": turn.tool}
        message["tool_calls"] = [{"index": -1, "function": function, "id": turn.call_id, "type": "function"}]
    if extra:
        message.update(action="ls", agent="main", message_type="action")
    messages = [message]
    if turn.output is not None:
        tool = {"role": "tool", "content": content_value(turn.output, turn.output_form, extra)}
        if extra:
            tool.update(agent="main", message_type="observation", tool_call_ids=[turn.call_id])
        messages.append(tool)
    return messages


def raw_messages(history: History) -> list[dict]:
    extra = history.extra_keys
    system = {"role": "system", "content": content_value(history.system, history.system_form, extra)}
    user = {"role": "user", "content": content_value(history.user, history.user_form, extra)}
    if extra:
        system.update(agent="main", message_type="system_prompt")
        user.update(agent="main", message_type="observation")
    messages = [system, user]
    for turn in [*history.body, history.answer, *history.trimmed, *history.trailing]:
        messages += raw_turn(turn, extra)
    return messages


def raw_input(history: History, messages: list) -> Any:
    return json.dumps(messages, ensure_ascii=False) if history.as_json_string else messages


# ---------------------------------------------------------------------------------------------
# The reference model: the expected output of a valid history, from its description


def template(dataset: str, instance_id: str | None, position: int) -> str:
    key = f"{dataset}\n{instance_id or ''}\n{position}".encode()
    return TEMPLATES[int(hashlib.sha256(key).hexdigest(), 16) % 12]


def strip_prefix(text: str) -> str:
    return text[len(OBSERVATION) :] if text.startswith(OBSERVATION) else text


def expected_output(history: History) -> tuple[list[dict], int]:
    """The messages spec §3-§5 prescribe, and how many reasonings were filled."""
    out = [
        {"role": "system", "content": SYSTEM_HEAD + TOOLS_JSON + SYSTEM_MIDDLE + history.system + SYSTEM_TAIL},
        {"role": "user", "content": history.user},
    ]
    filled = 0

    def reasoning(pieces: list[str]) -> None:
        nonlocal filled
        text = "\n\n".join(piece for piece in pieces if piece)
        if not text:
            text, filled = template(history.dataset, history.instance_id, len(out)), filled + 1
        out.append({"role": "reasoning", "content": "<think>" + text + "</think>"})

    pending: list[str] = []
    for turn in history.body:
        if turn.tool is None:
            pending.append(turn.reasoning())
            continue
        reasoning(pending + [turn.reasoning()])
        pending = []
        out.append(
            {
                "role": "tool_call",
                "content": "<tool_call>"
                + json.dumps({"name": turn.tool, "arguments": turn.arguments}, ensure_ascii=False)
                + "</tool_call>",
            }
        )
        out.append({"role": "tool_output", "content": "<tool_response>" + strip_prefix(turn.output) + "</tool_response>"})
    reasoning(pending + [history.answer.reasoning()] + [turn.reasoning() for turn in history.trailing])
    last_submit = ([history.answer] + [turn for turn in history.trimmed if turn.tool])[-1]
    if history.rollout_patch is not None:
        answer = history.rollout_patch
    else:
        answer = "" if last_submit.output is None else strip_prefix(last_submit.output)
    out.append({"role": "answer", "content": "<answer>" + answer + "</answer>"})
    return out, filled


# ---------------------------------------------------------------------------------------------
# Strategies for valid histories


def arguments_for(tool: str) -> st.SearchStrategy[dict]:
    if tool == "submit":
        return st.just({})
    if tool == "bash":
        return st.builds(
            lambda command, extra: {"command": command, **extra},
            texts,
            st.dictionaries(st.sampled_from(["timeout", "cwd"]), json_values, max_size=1),
        )
    optional = st.fixed_dictionaries(
        {},
        optional={
            "file_text": texts,
            "old_str": texts,
            "new_str": texts,
            "insert_line": st.integers(0, 10**6),
            "view_range": st.lists(st.integers(-1, 10**4), min_size=2, max_size=2),
            "extra": json_values,
        },
    )
    return st.builds(
        lambda command, path, rest: {"command": command, "path": path, **rest},
        st.sampled_from(["view", "create", "str_replace", "insert", "undo_edit"]),
        texts,
        optional,
    )


@st.composite
def turns(draw: st.DrawFn, tool: str | None, *, output: str | None | object = ..., can_be_empty: bool = True) -> Turn:
    """An assistant turn: tool None is text-only; output=... draws the tool text."""
    shape = draw(
        st.sampled_from(
            ["think_commentary", "think_only", "commentary_only", "unclosed", "empty"]
            if can_be_empty
            else ["think_commentary", "think_only", "commentary_only", "unclosed"]
        )
    )
    think = None if shape in ("commentary_only", "empty") else draw(texts)
    commentary = draw(texts) if shape in ("think_commentary", "commentary_only") else ""
    thought_form = draw(st.sampled_from(["same", "same", "missing", "empty", "blank", "thought_only"]))
    if thought_form == "thought_only" and not (think is not None or commentary.strip()):
        thought_form = "same"  # a blank thought falls back to the (then empty) content: the same R, but keep it simple
    turn = Turn(
        think=think,
        commentary=commentary,
        unclosed=shape == "unclosed",
        thought_form=thought_form,
        content_form=draw(st.sampled_from(["str", "parts", "split_parts"])),
        tool=tool,
        no_call_value=draw(st.sampled_from([None, []])),
        call_id=draw(st.sampled_from(["call_0", "call_1", "call_abcdef"])),  # ids repeat, as in real data
    )
    if tool is not None:
        turn.arguments = draw(arguments_for(tool))
        forms = ["json", "json_ascii", "object"] + (["null", "empty"] if not turn.arguments else [])
        turn.arguments_form = draw(st.sampled_from(forms))
        if output is ...:
            text = draw(st.one_of(texts, st.just(EMPTY_OUTPUT), st.just(REVIEW)))
            output = draw(st.sampled_from([OBSERVATION, ""])) + text if text != EMPTY_OUTPUT else text
        turn.output = output
        turn.output_form = draw(st.sampled_from(["parts", "str", "split_parts"]))
    return turn


non_submit_steps = st.sampled_from(["bash", "str_replace_editor"]).flatmap(turns)
text_only_turns = turns(None)


@st.composite
def histories(draw: st.DrawFn) -> History:
    body = draw(st.lists(st.one_of(non_submit_steps, non_submit_steps, text_only_turns), max_size=5))
    if draw(st.booleans()):  # submit -> review -> clean-up: the first submit stays a cycle (§3)
        body += [draw(turns("submit", output=OBSERVATION + REVIEW)), draw(non_submit_steps)]
        body += draw(st.lists(st.one_of(non_submit_steps, text_only_turns), max_size=2))
    body += draw(st.lists(text_only_turns, max_size=2))
    answer = draw(turns("submit"))
    trimmed: list[Turn] = []
    for _ in range(draw(st.integers(0, 2))):  # further submits of the trailing run
        trimmed += draw(st.lists(text_only_turns, max_size=1))
        trimmed.append(draw(turns("submit")))
    last_submit = ([answer] + [turn for turn in trimmed if turn.tool])[-1]
    if draw(st.booleans()):
        last_submit.output = None  # allowed: only text-only messages follow (§2)
    return History(
        system=draw(st.one_of(st.just(SERA_SYSTEM), texts)),
        system_form=draw(st.sampled_from(["str", "parts", "split_parts"])),
        user=draw(texts),
        user_form=draw(st.sampled_from(["parts", "str", "split_parts"])),
        body=body,
        answer=answer,
        trimmed=trimmed,
        trailing=draw(st.lists(text_only_turns, max_size=2)),
        rollout_patch=draw(st.one_of(st.none(), texts)),
        instance_id=draw(st.one_of(st.none(), st.just("tinydb_10309"), texts)),
        dataset=draw(st.one_of(st.sampled_from(["Sera-4.6-Lite-T2", "swe-agent"]), texts)),
        as_json_string=draw(st.booleans()),
        extra_keys=draw(st.booleans()),
    )


def convert(history: History, messages: Any) -> Converted | Reject:
    return convert_trajectory(messages, dataset=history.dataset, instance_id=history.instance_id, rollout_patch=history.rollout_patch)


# ---------------------------------------------------------------------------------------------
# Properties of valid histories


@given(histories())
def test_valid_history_converts_to_exactly_the_reference_output(history: History) -> None:
    messages = raw_messages(history)
    result = convert(history, raw_input(history, messages))
    assert isinstance(result, Converted), result
    out = check_converted(result)
    expected, filled = expected_output(history)
    assert out == expected
    assert result.messages == json.dumps(expected, ensure_ascii=False)
    kept_steps = sum(1 for turn in history.body if turn.tool)
    assert result.n_tool_calls == kept_steps
    assert result.n_trimmed_submits == sum(1 for turn in history.trimmed if turn.tool)
    assert result.n_folded_texts == sum(1 for turn in history.body if turn.tool is None) + len(history.trailing)
    assert result.n_filled_reasoning == filled
    assert result.n_replaced_chars == 0
    check_sft_variant(result)
    event(f"kept steps: {min(kept_steps, 5)}{'+' if kept_steps >= 5 else ''}")
    event(f"trimmed submits: {result.n_trimmed_submits}")
    event(f"filled reasonings: {min(filled, 2)}{'+' if filled >= 2 else ''}")
    event(f"review cycle kept: {any(turn.tool == 'submit' for turn in history.body)}")
    event(f"last submit without output: {([history.answer] + [t for t in history.trimmed if t.tool])[-1].output is None}")


@settings(max_examples=max(10, EXAMPLES // 3))
@given(histories(), st.integers(1, 3), st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"]))
def test_lone_surrogates_in_a_kept_output_are_replaced_and_counted(history: History, count: int, surrogate: str) -> None:
    history.as_json_string = False
    steps = [turn for turn in history.body if turn.tool]
    assume(steps)
    steps[0].output = (steps[0].output or "") + ("x" + surrogate) * count
    result = convert(history, raw_messages(history))
    assert isinstance(result, Converted), result
    check_converted(result)
    assert result.n_replaced_chars == count
    assert result.messages.count("x\ufffd") >= count
    check_sft_variant(result)  # orjson refuses the surrogate: the fallback parses `messages`


# ---------------------------------------------------------------------------------------------
# Mutations


HUGE = 1 << 20  # ~1 MB
BAD_ROLES = ["function", "developer", "ASSISTANT", "", None, 3, ["user"], "assistant\ud800"]
BAD_TOOLS = ["find_file", "open", "edit", "Bash", "submit ", "", None, 7, 1.5, True, "bash\udfff", ["bash"], {"name": "bash"}]
BAD_ARGUMENTS = [
    "{",
    '{"command": ',
    "[1, 2]",
    "3",
    '"ls"',
    "null",
    "true",
    '{"a": NaN}',
    '{"a": Infinity}',
    '{"a": 1}}',
    "{'a': 1}",
    '{"a": "\\ud800"}',
    '{"a": "\\ud83d\\ude00"}',
    7,
    1.5,
    [1],
    True,
    {"nested": {"deep": [None, {"x": "\ud800"}]}},
]
BAD_CONTENT = [
    3,
    1.5,
    True,
    {"text": "x"},
    [{"type": "image_url", "image_url": {"url": "x"}}],
    ["plain"],
    [{"type": "text", "text": 5}],
    [{"type": "text"}],
    [None],
    [{"text": "x"}],
]
BAD_TOOL_CALLS = [
    {"function": {"name": "bash", "arguments": "{}"}},
    "bash",
    [None],
    [{"function": None}],
    [{"function": "bash"}],
    [3],
    [{}],
    True,
    0,
]
BAD_MESSAGES_VALUE = [None, "", "[]", "{", "{}", 3, "null", '"x"', [], "[1, 2]", '[{"role": "system"}]', "\ud800", b"[]"]


def string_slots(messages: list) -> list[tuple[Any, Any]]:
    """(container, key) of every string in the message list (tool arguments decoded are not strings)."""
    slots: list[tuple[Any, Any]] = []

    def walk(value: Any) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        for key, item in list(items):
            if isinstance(item, str):
                slots.append((value, key))
            else:
                walk(item)

    walk(messages)
    return slots


def any_slots(messages: list) -> list[tuple[Any, Any]]:
    """(container, key) of every value inside the messages (dict entries and list items)."""
    slots: list[tuple[Any, Any]] = []

    def walk(value: Any) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
        for key, item in list(items):
            slots.append((value, key))
            walk(item)

    walk(messages)
    return slots


def functions(messages: list) -> list[dict]:
    found = []
    for message in messages:
        if isinstance(message, dict) and isinstance(message.get("tool_calls"), list):
            found += [
                call["function"] for call in message["tool_calls"] if isinstance(call, dict) and isinstance(call.get("function"), dict)
            ]
    return found


def mutate(data: st.DataObject, messages: list) -> list:
    """Apply one random mutation in place (or return a replacement list)."""
    op = data.draw(st.sampled_from(MUTATIONS), label="mutation")
    return op(data, messages) or messages


def pick(data: st.DataObject, items: list, label: str) -> Any:
    assume(items)
    return items[data.draw(st.integers(0, len(items) - 1), label=label)]


def m_drop(data, messages):
    del messages[pick(data, list(range(len(messages))), "drop")]


def m_duplicate(data, messages):
    index = pick(data, list(range(len(messages))), "duplicate")
    messages.insert(index, copy.deepcopy(messages[index]))


def m_swap_roles(data, messages):
    dicts = [m for m in messages if isinstance(m, dict)]
    a, b = pick(data, dicts, "a"), pick(data, dicts, "b")
    a["role"], b["role"] = b.get("role"), a.get("role")


def m_set_role(data, messages):
    message = pick(data, [m for m in messages if isinstance(m, dict)], "message")
    message["role"] = data.draw(st.sampled_from(BAD_ROLES + ["system", "user", "assistant", "tool"]))


def m_drop_key(data, messages):
    container, key = pick(data, [slot for slot in any_slots(messages) if isinstance(slot[0], dict)], "key")
    del container[key]


def m_unknown_tool(data, messages):
    pick(data, functions(messages), "function")["name"] = data.draw(st.sampled_from(BAD_TOOLS))


def m_break_arguments(data, messages):
    function = pick(data, functions(messages), "function")
    arguments = function.get("arguments")
    if isinstance(arguments, str) and len(arguments) > 1 and data.draw(st.booleans(), label="truncate"):
        function["arguments"] = arguments[: data.draw(st.integers(0, len(arguments) - 1))]
    else:
        function["arguments"] = copy.deepcopy(data.draw(st.sampled_from(BAD_ARGUMENTS)))


def m_none(data, messages):
    container, key = pick(data, any_slots(messages), "slot")
    container[key] = None


def m_other_content(data, messages):
    message = pick(data, [m for m in messages if isinstance(m, dict)], "message")
    message["content"] = copy.deepcopy(data.draw(st.sampled_from(BAD_CONTENT)))


def m_tool_calls(data, messages):
    message = pick(data, [m for m in messages if isinstance(m, dict)], "message")
    message["tool_calls"] = copy.deepcopy(data.draw(st.sampled_from(BAD_TOOL_CALLS)))


def m_parallel(data, messages):
    message = pick(
        data, [m for m in messages if isinstance(m, dict) and isinstance(m.get("tool_calls"), list) and m["tool_calls"]], "message"
    )
    message["tool_calls"] = message["tool_calls"] * data.draw(st.integers(2, 3))


def m_extra_keys(data, messages):
    containers = [m for m in messages if isinstance(m, dict)] + [c for c, _ in any_slots(messages) if isinstance(c, dict)]
    container = pick(data, containers, "container")
    container[data.draw(st.sampled_from(["extra", "cache_control", "tool_call_id", "refusal", "index"]))] = data.draw(json_values)


def m_not_an_object(data, messages):
    messages[pick(data, list(range(len(messages))), "index")] = data.draw(st.sampled_from([None, "assistant", 3, [], [{"role": "user"}]]))


def edit_string(data, messages, piece: str) -> None:
    container, key = pick(data, string_slots(messages), "string")
    text = container[key]
    at = data.draw(st.integers(0, len(text)))
    container[key] = text[:at] + piece + text[at:]


def m_huge(data, messages):
    seed = data.draw(st.text(SAFE_CHARS, min_size=1, max_size=4), label="huge seed")
    edit_string(data, messages, seed * (HUGE // len(seed)))


def m_unicode(data, messages):
    edit_string(data, messages, data.draw(st.text(st.characters(min_codepoint=0x80, exclude_categories=("Cs",)), min_size=1, max_size=8)))


def m_surrogate(data, messages):
    edit_string(data, messages, data.draw(st.text(st.characters(categories=("Cs",)), min_size=1, max_size=3)))


def m_think_tags(data, messages):
    edit_string(data, messages, data.draw(st.sampled_from(["<think>", "</think>", "<think></think>", "</think><think>", "<think>x"])))


def m_observation(data, messages):
    edit_string(data, messages, OBSERVATION)


MUTATIONS = [
    m_drop,
    m_duplicate,
    m_swap_roles,
    m_set_role,
    m_drop_key,
    m_unknown_tool,
    m_break_arguments,
    m_none,
    m_other_content,
    m_tool_calls,
    m_parallel,
    m_extra_keys,
    m_not_an_object,
    m_huge,
    m_unicode,
    m_surrogate,
    m_think_tags,
    m_observation,
]


@given(histories(), st.data())
def test_mutated_history_gives_one_row_or_one_reject_never_an_exception(history: History, data: st.DataObject) -> None:
    messages = raw_messages(history)
    for _ in range(data.draw(st.integers(1, 3), label="n mutations")):
        messages = mutate(data, messages)
    if history.as_json_string:
        raw: Any = json.dumps(messages, ensure_ascii=data.draw(st.booleans(), label="ascii"))
    else:
        raw = messages
    result = convert(history, raw)
    event(f"outcome: {result.reason if isinstance(result, Reject) else 'converted'}")
    check_outcome(result)


@settings(max_examples=max(10, EXAMPLES // 5))
@given(histories(), st.data())
def test_every_mutation_alone(history: History, data: st.DataObject) -> None:
    """Each mutation once on its own, so every kind is exercised whatever the draw of the test above."""
    for op in MUTATIONS:
        messages = raw_messages(history)
        try:
            messages = op(data, messages) or messages
        except UnsatisfiedAssumption:  # nothing for this mutation to act on in this history
            continue
        check_outcome(convert(history, raw_input(history, messages)))


@given(
    st.one_of(st.sampled_from(BAD_MESSAGES_VALUE), json_values, st.text(SAFE_CHARS, max_size=30)),
    st.one_of(st.none(), texts),
    st.one_of(st.none(), texts),
)
def test_any_messages_value(value: Any, instance_id: str | None, rollout_patch: str | None) -> None:
    check_outcome(convert_trajectory(value, dataset="d", instance_id=instance_id, rollout_patch=rollout_patch))


@settings(max_examples=max(10, EXAMPLES // 2))
@given(histories(), st.data())
def test_pipeline_record_is_converted_xor_rejected(history: History, data: st.DataObject) -> None:
    """rows.output_row on a whole source row: metadata may hold lone surrogates or non-strings too."""
    messages = raw_messages(history)
    if data.draw(st.booleans(), label="mutate"):
        messages = mutate(data, messages)
    weird = st.one_of(
        st.none(),
        texts,
        st.text(st.characters(categories=("Cs",)), min_size=1, max_size=2),
        st.integers(),
        st.lists(st.integers(), max_size=2),
    )
    record = {
        "messages": raw_input(history, messages),
        "instance_id": data.draw(weird, label="instance_id"),
        "rollout_patch": data.draw(st.one_of(st.none(), texts, st.just("\ud800")), label="rollout_patch"),
        "target_patch": data.draw(st.one_of(st.none(), texts, st.just("+x\n-y\n")), label="target_patch"),
        "func_name": data.draw(weird, label="func_name"),
        "func_path": data.draw(weird, label="func_path"),
    }
    row = output_row(record, history.dataset, data.draw(st.sampled_from(["T1", "T2"]), label="rollout"))
    assert ("messages" in row) != ("reject_reason" in row), row.keys()
    for key in ("instance_id", "func_name", "func_path"):
        assert row[key] is None or isinstance(row[key], str), key
        if row[key] is not None:
            row[key].encode("utf-8")  # lone surrogates replaced in metadata too
    if "reject_reason" in row:
        assert row["reject_reason"] in REJECT_REASONS and row["reject_detail"]
        return
    row["messages"].encode("utf-8")
    recall = row["line_level_recall"]
    assert recall is None or 0.0 <= recall <= 1.0
    assert row["n_chars"] == len(row["messages"])


# ---------------------------------------------------------------------------------------------
# Converter bugs these properties found, now fixed: each pinned by a regression test.

PREAMBLE = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]


def call(name: Any, arguments: Any) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": name, "arguments": arguments}}]}


def test_regression_unhashable_tool_name() -> None:
    result = convert_trajectory(PREAMBLE + [call(["bash"], "{}")], dataset="d", instance_id=None, rollout_patch=None)
    assert isinstance(result, Reject) and result.reason == "unknown_tool"


@pytest.mark.parametrize("where", ["messages", "arguments", "line"])
def test_regression_deeply_nested_json(where: str) -> None:
    deep = "[" * 1100 + "]" * 1100
    if where == "line":  # sources.parse_line: one bad JSON Lines line must become a reject, not fail the build
        assert parse_line(('{"messages": ' + deep + "}").encode()).reason == "line_not_json"
        return
    raw = deep if where == "messages" else PREAMBLE + [call("bash", deep)]
    result = convert_trajectory(raw, dataset="d", instance_id=None, rollout_patch=None)
    assert isinstance(result, Reject)


YAML_TRAJECTORY = """history:
- {role: system, content: s}
- {role: user, content: u}
- role: assistant
  content: look
  tool_calls: [{function: {name: bash, arguments: {command: ls, extra: VALUE}}}]
- {role: tool, content: ok}
- role: assistant
  content: done
  tool_calls: [{function: {name: submit, arguments: {}}}]
- {role: tool, content: the diff}
"""


@pytest.mark.parametrize("value", ["2024-01-01", ".nan", ".inf", "!!set {a}", "!!binary aGk="])
def test_regression_yaml_only_values_in_arguments(value: str) -> None:
    source = SourceFile("d", "d/x.yaml", "x.yaml", "traj_yaml")
    record = traj_record(YAML_TRAJECTORY.replace("VALUE", value).encode(), source)
    if isinstance(record, LineReject):  # NaN, infinities, sets, binary: not JSON, the file is rejected
        assert record.reason == "line_not_json"
        return
    row = output_row(record, "d", "T1")
    if "messages" in row:
        call_text = [m["content"] for m in json.loads(row["messages"]) if m["role"] == "tool_call"][0]
        json.loads(call_text[len("<tool_call>") : -len("</tool_call>")], parse_constant=refuse_constant)  # NaN / Infinity


def test_regression_yaml_date_as_submission() -> None:
    source = SourceFile("d", "d/x.yaml", "x.yaml", "traj_yaml")
    record = traj_record((YAML_TRAJECTORY.replace("VALUE", "x") + "info: {submission: 2024-01-01}\n").encode(), source)
    assert "messages" in output_row(record, "d", "T1")

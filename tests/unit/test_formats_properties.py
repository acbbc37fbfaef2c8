"""Property tests of the format adapters (formats.py): whatever a row of any format holds, it becomes a
valid strict row whose calls name its own tools, or a reject with a known reason; never an exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sera_rectify import formats, reasons, sft
from sera_rectify.render import tool_set
from sera_rectify.rows import output_row

# pieces the adapters look for, so random texts hit every branch of the parsers
PIECES = [
    "a",
    " ",
    "\n",
    "```",
    "```bash\n",
    "<command>",
    "</command>",
    "<function=bash>",
    "<function=submit>",
    "<function=nope>",
    "<parameter=command>",
    "<parameter=view_range>",
    "</parameter>",
    "</function>",
    "[1, 2]",
    "submit",
    "<think>",
    "</think>",
    "OBSERVATION:\n",
    "\ud800",
]
TEXTS = st.lists(st.sampled_from(PIECES), max_size=8).map("".join)
TOOL_NAMES = ["bash", "submit", "finish", "execute_bash", "str_replace_editor", "nope"]
SWE_SMITH_SYSTEM = (
    "You have access to the following functions:\n\n"
    "---- BEGIN FUNCTION #1: bash ----\nDescription: run\n\nParameters:\n"
    "  (1) command (string, required): the command\n  (2) view_range (array, optional): lines\n---- END FUNCTION #1 ----\n\n"
    "---- BEGIN FUNCTION #2: submit ----\nDescription: done\nNo parameters are required for this function.\n---- END FUNCTION #2 ----"
)


def schema(name: str) -> dict:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object", "properties": {}}}}


ARGUMENTS = st.one_of(
    st.none(),
    st.just(""),
    st.just("{"),
    st.just("[1]"),
    st.just('{"command": "ls"}'),
    st.dictionaries(st.sampled_from(["command", "path"]), TEXTS, max_size=2),
)
CALLS = st.lists(
    st.builds(
        lambda name, arguments, call_id: {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}},
        st.sampled_from(TOOL_NAMES),
        ARGUMENTS,
        st.sampled_from(["c1", "c2", None]),
    ),
    max_size=2,
)
CONTENT = st.one_of(
    st.none(), TEXTS, st.lists(st.fixed_dictionaries({"type": st.sampled_from(["text", "image"]), "text": TEXTS}), max_size=2)
)
MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", "ai"]), "content": CONTENT},
    optional={"tool_calls": st.one_of(st.none(), CALLS), "tool_call_id": st.sampled_from(["c1", "c2"]), "is_demo": st.booleans()},
)


def chat(first_system: str) -> st.SearchStrategy[list[dict]]:
    """A system turn, a user turn, then anything: most rows look like a run, the rest probe the rules."""
    head = st.just([{"role": "system", "content": first_system}, {"role": "user", "content": "task"}])
    return st.tuples(head, st.lists(MESSAGE, max_size=10)).map(lambda parts: parts[0] + parts[1]) | st.lists(MESSAGE, max_size=6)


TOOLS_COLUMN = st.one_of(st.none(), st.just("not json"), st.lists(st.sampled_from(TOOL_NAMES).map(schema), min_size=1, max_size=4))
DECLARED = [schema(name) for name in ("bash", "str_replace_editor", "submit", "finish")]
NEBIUS_TURN = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "ai"]), "text": st.one_of(st.none(), TEXTS), "system_prompt": st.none(), "mask": st.booleans()}
)


def run_like(step: st.SearchStrategy[list[dict]], last: list[dict], system: str) -> st.SearchStrategy[list[dict]]:
    """A run as the format writes it (preamble, steps, the final action), now and then with a random
    turn inserted: most examples convert, the others probe one rule at a time."""

    def build(steps: list[list[dict]], noise: list[tuple[int, dict]]) -> list[dict]:
        turns = [{"role": "system", "content": system}, {"role": "user", "content": "task"}]
        turns += [turn for pair in steps for turn in pair] + last
        for position, turn in noise:
            turns.insert(2 + position % (len(turns) - 1), turn)
        return turns

    return st.builds(build, st.lists(step, max_size=5), st.lists(st.tuples(st.integers(0, 50), MESSAGE), max_size=1))


def call_step(name: str) -> st.SearchStrategy[list[dict]]:
    call = st.builds(lambda arguments: {"id": "c1", "type": "function", "function": {"name": name, "arguments": arguments}}, ARGUMENTS)
    nudge = st.just([{"role": "assistant", "content": "done?"}, {"role": "user", "content": "Please continue working on the task"}])
    step = st.builds(
        lambda text, c, out: [{"role": "assistant", "content": text, "tool_calls": [c]}, {"role": "tool", "content": out}],
        TEXTS,
        call,
        TEXTS,
    )
    return step | nudge


def text_step(action: str) -> st.SearchStrategy[list[dict]]:
    step = st.builds(lambda text, out: [{"role": "assistant", "content": text + action}, {"role": "user", "content": out}], TEXTS, TEXTS)
    return step | st.builds(lambda text: [{"role": "assistant", "content": text}, {"role": "user", "content": "format error"}], TEXTS)


def as_nebius(turns: list[dict]) -> list[dict]:
    roles = {"assistant": "ai"}
    return [{"role": "system", "text": None, "system_prompt": turns[0]["content"]}] + [
        {"role": roles.get(t["role"], t["role"]), "text": t.get("content"), "system_prompt": None, "mask": True} for t in turns[1:]
    ]


XML_CALL = "<function=bash>\n<parameter=command>ls</parameter>\n<parameter=view_range>[1, 2]</parameter>\n</function>"
ROWS = {
    formats.SWE_SMITH_XML: st.builds(
        lambda messages, model: {"messages": messages, "model": model, "patch": "p"},
        run_like(text_step(XML_CALL), [{"role": "assistant", "content": "<function=submit>\n</function>"}], SWE_SMITH_SYSTEM)
        | chat(SWE_SMITH_SYSTEM),
        st.sampled_from([None, "m"]),
    ),
    formats.OPENHANDS: st.builds(
        lambda messages, tools: {"messages": messages, "tools": tools, "resolved": False},
        run_like(
            st.sampled_from(["bash", "str_replace_editor", "nope"]).flatmap(call_step),
            [{"role": "assistant", "content": None, "tool_calls": [{"function": {"name": "finish", "arguments": "{}"}}]}],
            "s",
        )
        | chat("s"),
        st.just(DECLARED) | TOOLS_COLUMN,
    ),
    formats.SWE_AGENT: st.builds(
        lambda messages, tools: {"messages": messages, "tools": tools},
        run_like(
            st.sampled_from(["bash", "str_replace_editor"]).flatmap(call_step),
            [{"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "submit"}}]}],
            "s",
        )
        | chat("s"),
        st.just(DECLARED) | TOOLS_COLUMN,
    ),
    formats.SWE_AGENT_TEXT: st.one_of(
        run_like(text_step("```\nls -la\n```"), [{"role": "assistant", "content": "```\nsubmit\n```"}], "sys").map(
            lambda turns: {"trajectory": as_nebius(turns), "model_name": "m", "target": True}
        ),
        st.builds(
            lambda turns, system: {"trajectory": [{"role": "system", "text": None, "system_prompt": system}, *turns], "model_name": "m"},
            st.lists(NEBIUS_TURN, max_size=10),
            TEXTS,
        ),
    ),
}


def check(row: dict[str, Any]) -> None:
    if "reject_reason" in row:
        assert row["reject_reason"] in reasons.MEANINGS, row
        assert row["reject_detail"]
        return
    tools = tool_set(json.loads(row["tools"]), frozenset())
    texts = sft.untagged_texts(json.loads(row["messages"]), tools)
    assert {text.name for text in texts if not isinstance(text, str)} <= tools.names


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_row_of_any_format_converts_or_is_a_known_reject(data: st.DataObject) -> None:
    source_format = data.draw(st.sampled_from(list(ROWS)), label="format")
    check(output_row(data.draw(ROWS[source_format], label="row"), "d", "T1", None, source_format))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_detection_always_names_a_format(data: st.DataObject) -> None:
    row = data.draw(st.sampled_from(list(ROWS.values())).flatmap(lambda rows: rows))
    source_format, why = formats.detect_format(row)
    assert source_format in formats.FORMATS and why
    check(output_row(row, "d", "T1", None, source_format))

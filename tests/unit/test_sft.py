"""The SFT-ready variant (sera_rectify.sft): rectified rows to OpenAI chat messages, and the proof that a
real chat template with tools renders them.

The rows are real: the three published rows of allenai/Sera-4.6-Lite-T2 in tests/fixtures/sera/, converted
by sera_rectify.convert.convert_trajectory. The chat template is Qwen3's, verbatim
(tests/fixtures/chat_templates/qwen3_official.jinja, NOTICE-qwen3.md), rendered by transformers'
`apply_chat_template` on a small real tokenizer made here (sera_testkit.tokenizer).
"""

from __future__ import annotations

import json
import re

import pytest

from sera_rectify import render, sft
from sera_rectify.convert import Converted, convert_trajectory
from sera_testkit.constants import SERA_ROWS_DATASET as DATASET
from sera_testkit.constants import SERA_SYSTEM
from sera_testkit.tokenizer import make_tokenizer

RENDERED_S = render.render_system("s")  # a rectified system message whose source system text is "s"



# ---------------------------------------------------------------------------------------------
# helpers


def converted(row: dict) -> Converted:
    result = convert_trajectory(row["messages"], dataset=DATASET, instance_id=row["instance_id"], rollout_patch=row["rollout_patch"])
    assert isinstance(result, Converted), result
    return result


@pytest.fixture(scope="module")
def real_converted(sera_rows: list[dict]) -> list[Converted]:
    return [converted(row) for row in sera_rows]


@pytest.fixture(scope="module")
def row0(real_converted: list[Converted]) -> Converted:
    return real_converted[0]


@pytest.fixture(scope="module")
def row0_openai(row0: Converted) -> list[dict]:
    return json.loads(sft.sft_messages_of_json(row0.messages))


@pytest.fixture(scope="module")
def qwen3_tokenizer(tmp_path_factory: pytest.TempPathFactory):
    """AutoTokenizer of a small BPE saved with Qwen3's chat template: what a user loads."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(make_tokenizer(tmp_path_factory.mktemp("qwen3_tokenizer"))))


def rectified(messages_json: str) -> list[dict]:
    return json.loads(messages_json)


# ---------------------------------------------------------------------------------------------
# one row: the OpenAI list


def test_roles_follow_the_chat_shape(row0_openai: list[dict]) -> None:
    roles = [m["role"] for m in row0_openai]
    assert roles[:2] == ["system", "user"]
    body = roles[2:]
    # (assistant call, tool)* then the final assistant
    assert body[-1] == "assistant"
    assert body[:-1] == ["assistant", "tool"] * ((len(body) - 1) // 2)


def test_system_is_the_sources_own_text_and_user_is_unchanged(row0: Converted, row0_openai: list[dict]) -> None:
    """The SFT system message holds the source's system text only: a tools-aware chat template adds the
    tool schemas and its own calling protocol from `tools`, so the rectified protocol would be a second one."""
    source = rectified(row0.messages)
    assert row0_openai[0] == {"role": "system", "content": SERA_SYSTEM}
    assert source[0]["content"] == render.render_system(SERA_SYSTEM)
    assert row0_openai[1] == source[1]


def test_every_tool_message_answers_the_call_before_it(row0_openai: list[dict]) -> None:
    ids = []
    for previous, message in zip(row0_openai[:-1], row0_openai[1:], strict=True):
        if message["role"] == "tool":
            assert previous["role"] == "assistant"
            (call,) = previous["tool_calls"]
            assert message["tool_call_id"] == call["id"]
            ids.append(call["id"])
    assert len(ids) == len(set(ids)), "call ids are unique within the row"


def test_tool_calls_are_openai_function_calls_with_json_string_arguments(row0: Converted, row0_openai: list[dict]) -> None:
    calls = [call for m in row0_openai if m["role"] == "assistant" for call in m.get("tool_calls", [])]
    assert len(calls) == row0.n_tool_calls == 16
    source_calls = [
        json.loads(m["content"][len("<tool_call>") : -len("</tool_call>")]) for m in rectified(row0.messages) if m["role"] == "tool_call"
    ]
    for index, (call, source) in enumerate(zip(calls, source_calls, strict=True)):
        assert set(call) == {"id", "type", "function"}
        assert call["type"] == "function"
        assert call["id"] == f"call_{index}"
        assert isinstance(call["function"]["arguments"], str)
        arguments = json.loads(call["function"]["arguments"])
        assert isinstance(arguments, dict)
        assert {"name": call["function"]["name"], "arguments": arguments} == source
        # written like the converter writes the tool_call (conversion.md §5), so the text is the same
        assert call["function"]["arguments"] == json.dumps(source["arguments"], ensure_ascii=False)


def test_reasoning_moves_to_reasoning_content_without_tags(row0: Converted, row0_openai: list[dict]) -> None:
    assistants = [m for m in row0_openai if m["role"] == "assistant"]
    reasonings = [m["content"] for m in rectified(row0.messages) if m["role"] == "reasoning"]
    assert [render.THINK_OPEN + m["reasoning_content"] + render.THINK_CLOSE for m in assistants] == reasonings
    assert all("<think>" not in m["reasoning_content"] and "</think>" not in m["reasoning_content"] for m in assistants)
    assert all(m["content"] == "" for m in assistants[:-1])


def test_tool_outputs_and_answer_lose_only_their_tags(row0: Converted, row0_openai: list[dict], sera_rows: list[dict]) -> None:
    source = rectified(row0.messages)
    outputs = [m["content"] for m in source if m["role"] == "tool_output"]
    assert ["<tool_response>" + m["content"] + "</tool_response>" for m in row0_openai if m["role"] == "tool"] == outputs
    final = row0_openai[-1]
    assert set(final) == {"role", "reasoning_content", "content"}
    assert final["content"] == sera_rows[0]["rollout_patch"]  # the answer is the rollout_patch (conversion.md §3)


def test_message_count_matches_the_rectified_row(real_converted: list[Converted]) -> None:
    for row in real_converted:
        messages = json.loads(sft.sft_messages_of_json(row.messages))
        # system, user, 2 per tool call, the final assistant
        assert len(messages) == 2 * row.n_tool_calls + 3 == row.n_messages - row.n_tool_calls - 1


def test_the_pipelines_fast_path_equals_the_text_path_on_real_rows(real_converted: list[Converted]) -> None:
    """What the conversion workers write (sft_messages_of: from the converter's untagged texts) is
    what the rectified `messages` text alone gives (convert_messages); the property tests check it
    on generated histories too."""
    for row in real_converted:
        assert row.texts and sft.dump_sft_messages(sft.sft_messages_of(row)) == sft.sft_messages_of_json(row.messages)


def test_a_lone_surrogate_takes_the_text_path_and_matches_the_main_export(sera_rows: list[dict]) -> None:
    raw = json.loads(sera_rows[0]["messages"])
    raw[3]["content"] = "before \ud83d after" if isinstance(raw[3]["content"], str) else raw[3]["content"]
    for part in raw[3]["content"] if isinstance(raw[3]["content"], list) else []:
        part["text"] = "before \ud83d after"
    result = convert_trajectory(raw, dataset=DATASET, instance_id="x", rollout_patch=sera_rows[0]["rollout_patch"])
    assert isinstance(result, Converted) and result.n_replaced_chars == 1
    assert "before \ufffd after" in sft.dump_sft_messages(sft.sft_messages_of(result))
    assert sft.dump_sft_messages(sft.sft_messages_of(result)) == sft.sft_messages_of_json(result.messages)


def test_conversion_is_deterministic(row0: Converted) -> None:
    assert sft.sft_messages_of_json(row0.messages) == sft.sft_messages_of_json(row0.messages)


@pytest.mark.parametrize(
    "messages, error",
    [
        ([{"role": "system", "content": RENDERED_S}, {"role": "user", "content": "u"}], "at least 4"),
        (
            [
                {"role": "user", "content": "u"},
                {"role": "system", "content": RENDERED_S},
                {"role": "reasoning", "content": "<think>r</think>"},
                {"role": "answer", "content": "<answer></answer>"},
            ],
            "message 0",
        ),
        (
            [
                {"role": "system", "content": RENDERED_S},
                {"role": "user", "content": "u"},
                {"role": "reasoning", "content": "r"},
                {"role": "answer", "content": "<answer></answer>"},
            ],
            "message 2: reasoning content is not wrapped",
        ),
        (
            [
                {"role": "system", "content": RENDERED_S},
                {"role": "user", "content": "u"},
                {"role": "reasoning", "content": "<think>r</think>"},
                {"role": "tool_call", "content": '<tool_call>{"name": "bash", "arguments": {}}</tool_call>'},
            ],
            "message 3",
        ),
        (
            [
                {"role": "system", "content": RENDERED_S},
                {"role": "user", "content": "u"},
                {"role": "reasoning", "content": "<think>r</think>"},
                {"role": "tool_call", "content": '<tool_call>{"name": "bash"}</tool_call>'},
                {"role": "tool_output", "content": "<tool_response></tool_response>"},
                {"role": "reasoning", "content": "<think></think>"},
                {"role": "answer", "content": "<answer></answer>"},
            ],
            "exactly name and arguments",
        ),
        (
            [
                {"role": "system", "content": RENDERED_S},
                {"role": "user", "content": "u"},
                {"role": "reasoning", "content": "<think>r</think>"},
                {"role": "answer", "content": "<answer></answer>"},
                {"role": "reasoning", "content": "<think></think>"},
            ],
            "nothing may follow the answer",
        ),
        (
            [
                {"role": "system", "content": RENDERED_S},
                {"role": "user", "content": "u"},
                {"role": "reasoning", "content": "<think>r</think>"},
                {"role": "tool_call", "content": '<tool_call>{"name": "bash", "arguments": {}}</tool_call>'},
                {"role": "tool_output", "content": "<tool_response></tool_response>"},
            ],
            "without an answer",
        ),
    ],
)
def test_a_row_outside_the_strict_format_is_refused(messages: list[dict], error: str) -> None:
    with pytest.raises(sft.NotRectified, match=re.escape(error)):
        sft.sft_messages_of_json(json.dumps(messages))


def test_a_system_message_that_is_not_the_rendered_prompt_is_refused() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "reasoning", "content": "<think>r</think>"},
        {"role": "answer", "content": "<answer></answer>"},
    ]
    with pytest.raises(sft.NotRectified, match="not the rendered system prompt"):
        sft.sft_messages_of_json(json.dumps(messages))


def test_source_system_of_reads_render_system_backwards() -> None:
    for text in ["", "s", SERA_SYSTEM, "{tools_json} {source_system}", "a\r\nb ✓"]:
        assert render.source_system_of(render.render_system(text)) == text
    assert render.source_system_of("s") is None


def test_the_smallest_row() -> None:
    messages = [
        {"role": "system", "content": RENDERED_S},
        {"role": "user", "content": "u"},
        {"role": "reasoning", "content": "<think>r</think>"},
        {"role": "answer", "content": "<answer>diff</answer>"},
    ]
    assert json.loads(sft.sft_messages_of_json(json.dumps(messages))) == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "reasoning_content": "r", "content": "diff"},
    ]


# ---------------------------------------------------------------------------------------------
# the chat-template proof


def test_rows_render_through_qwen3s_chat_template(qwen3_tokenizer, real_converted: list[Converted]) -> None:
    """Qwen3's own template (through transformers) takes the rows as they are: the source system text
    then the tools block, every call and output in its tags, the last turn's reasoning and answer."""
    tools = json.loads(render.sera_tools().schemas_json)  # the `tools` column
    for row in real_converted:
        messages = json.loads(sft.sft_messages_of_json(row.messages))
        text = qwen3_tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
        assert text.startswith("<|im_start|>system\n" + SERA_SYSTEM + "\n\n# Tools\n")
        assert "## Tool-use protocol" not in text  # one protocol: the template's
        for tool in tools:
            assert json.dumps(tool, ensure_ascii=False) in text
        assert "<|im_start|>user\n" + messages[1]["content"] + "<|im_end|>\n" in text
        for message in messages[2:]:
            if message["role"] == "assistant":
                for call in message.get("tool_calls", []):
                    function = call["function"]
                    assert '<tool_call>\n{"name": "' + function["name"] + '", "arguments": ' + function["arguments"] + "}\n</tool_call>" in text
            else:
                assert "<tool_response>\n" + message["content"] + "\n</tool_response>" in text
        assert text.count('<tool_call>\n{"name": "') == row.n_tool_calls  # (the system block's example has no quote)
        last = messages[-1]
        assert text.endswith("<think>\n" + last["reasoning_content"].strip("\n") + "\n</think>\n\n" + last["content"] + "<|im_end|>\n")


# ---------------------------------------------------------------------------------------------
# the file


def test_default_sft_path_sits_beside_the_export() -> None:
    assert sft.default_sft_path("output/sera_rectified.parquet") == "output/sera_rectified_sft.parquet"
    assert sft.default_sft_path("/x/lite_t2.parquet") == "/x/lite_t2_sft.parquet"

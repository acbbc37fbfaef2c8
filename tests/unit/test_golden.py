r"""Golden files: the real fixtures converted, checked by hand against spec/conversion.md, checked in.

tests/golden/<instance_id>.messages.json holds the converted `messages` of each converting fixture as a
pretty JSON list (indent=1), so a change in rendering shows up as a readable diff; tests/golden/rejects.json
holds {reason, detail} for each rejecting fixture. The inputs go through the path of
`python -m sera_rectify convert FILE` (scripts/update_golden.py: sources.traj_record for the .traj files,
then rows.output_row), with dataset "Sera-4.6-Lite-T2" for the SERA rows and "swe-agent" (the
folder name) for the trajectories: the dataset feeds the fill-in template hash (§4).

A deliberate rendering change: `.venv/bin/python scripts/update_golden.py`, then read the diff against the
spec before committing.

Which rules each golden exercises (verified by reading the file against the spec, and by a one-off
independent rebuild from the source; the tests below assert a few of these facts directly):

- all six: §5 system template filled (tools.json + the source system text, no trailing newline); the user
  text flattened from a list of parts, unchanged; §5 `OBSERVATION:\n` stripped once; §6 n_messages = 3k + 4.
- tinydb_10309: §4 `<think>` block + commentary -> "inner\n\ncommentary" (e.g. the clean-up step, output 47);
  §3 submit -> review -> clean-up -> submit: the first submit stays a cycle whose output is the review
  request, the last is the answer = rollout_patch; the empty-output text "Your last command ran
  successfully ..." has no prefix and stays verbatim.
- ptyprocess_10174: §3 a trailing run of two submits: the first is the answer (its reasoning kept); the
  second, its reasoning and both outputs are dropped (n_trimmed_submits 1); §4 a commentary that repeats
  the think text is kept (no text lost).
- cantools_10317: §3 review / clean-up cycle kept, answer = rollout_patch; a 20 kB review output verbatim.
- pandas pr_53652: §4 no think tags: R = the thought stripped; empty thought at history 24 and 54 ->
  output 35 and 80 filled with templates 6 and 2 (sha256 of "swe-agent\n<id>\n<position>" % 12); §5 `\r\n`
  kept in tool outputs; §3 answer = info.submission; the submit at 70 stays a cycle.
- pandas pr_53856: §2 arguments holding a list (view_range) kept as JSON; §3 a single trailing submit
  (history 34): nothing trimmed, the submit at 30 stays a cycle.
- pydantic pr_8316: §4 the final submit (history 44) has an empty thought: the answer's reasoning
  (output 65) is filled with template 4.
- rejects.json: §2 unknown_tool for the older tool bundle (find_file, open); §1 unexpected_user_message
  (pre-1.0 trajectory) and bad_preamble (YAML demonstration without a system message), each before any
  later problem.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib.util
import json

import pytest

from sera_rectify import reasons
from sera_testkit.constants import PACKAGE_SPEC_DIR, REPO, SERA_ROWS_FILE, SERA_SYSTEM, SWE_AGENT_DIR, TESTS_DIR

GOLDEN_DIR = TESTS_DIR / "golden"
PANDAS_53652 = "swe-smith__pandas-dev__pandas.95280573.pr_53652"
PANDAS_53856 = "swe-smith__pandas-dev__pandas.95280573.pr_53856"
PYDANTIC_8316 = "swe-smith__pydantic__pydantic.acb0f10f.pr_8316"
CONVERTING = ["tinydb_10309", "ptyprocess_10174", "cantools_10317", PANDAS_53652, PANDAS_53856, PYDANTIC_8316]
REJECTING = {
    "swe-agent__6e44b9__sweagenttestrepo-1c2844.traj": reasons.UNKNOWN_TOOL,
    "swe-agent__function_calling_simple.traj": reasons.UNKNOWN_TOOL,
    "swe-agent__marshmallow-code__marshmallow-1867.traj": reasons.UNKNOWN_TOOL,
    "swe-agent__pydicom__pydicom-1458.traj": reasons.UNEXPECTED_USER_MESSAGE,
    "swe-agent__str_replace_anthropic_demo.yaml": reasons.BAD_PREAMBLE,
}


def load_update_script():
    spec = importlib.util.spec_from_file_location("update_golden", REPO / "scripts" / "update_golden.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def update_golden():
    return load_update_script()


@pytest.fixture(scope="module")
def current(update_golden) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """What the converter gives now: {instance_id: messages string}, {file: {reason, detail}}."""
    return update_golden.outputs()


def golden_list(name: str) -> list[dict[str, str]]:
    return json.loads((GOLDEN_DIR / f"{name}.messages.json").read_text(encoding="utf-8"))


def diff_message(expected: str, actual: str, name: str) -> str:
    lines = difflib.unified_diff(
        expected.splitlines(keepends=True), actual.splitlines(keepends=True), f"golden/{name}", "converter now", n=1
    )
    text = "".join(lines)
    return f"{name} differs from its golden file (if intended: scripts/update_golden.py, then review the diff):\n" + text[:20000]


def template(instance_id: str, position: int, dataset: str = "swe-agent") -> str:
    """The fill-in text the spec prescribes (§4), computed here from the spec file."""
    lines = (PACKAGE_SPEC_DIR / "reasoning-templates.txt").read_bytes().decode("utf-8").splitlines()
    return lines[int(hashlib.sha256(f"{dataset}\n{instance_id}\n{position}".encode()).hexdigest(), 16) % 12]


def history(name: str) -> list[dict]:
    return json.loads((SWE_AGENT_DIR / name).read_bytes())["history"]


# ---------------------------------------------------------------------------------------------
# The converter against the checked-in files


def test_golden_set_is_every_fixture(current) -> None:
    converted, rejects = current
    assert sorted(converted) == sorted(CONVERTING)
    assert {name: value["reason"] for name, value in rejects.items()} == REJECTING
    on_disk = {path.name for path in GOLDEN_DIR.iterdir() if path.is_file()}  # formats/: test_formats.py
    assert on_disk == {f"{name}.messages.json" for name in CONVERTING} | {"rejects.json"}, "stray or missing golden file"


@pytest.mark.parametrize("name", CONVERTING)
def test_converted_messages_match_golden(current, update_golden, name: str) -> None:
    messages = current[0][name]
    expected_text = (GOLDEN_DIR / f"{name}.messages.json").read_text(encoding="utf-8")
    actual_text = update_golden.pretty(messages)
    if actual_text != expected_text:
        pytest.fail(diff_message(expected_text, actual_text, name), pytrace=False)
    # the pretty file holds the content; the exact column string (separators, key order, escaping) is this:
    assert messages == json.dumps(json.loads(expected_text), ensure_ascii=False)


def test_rejects_match_golden(current) -> None:
    expected = json.loads((GOLDEN_DIR / "rejects.json").read_text(encoding="utf-8"))
    assert current[1] == expected
    assert all(value["detail"] for value in expected.values())


def test_update_script_check_mode_agrees(update_golden, capsys: pytest.CaptureFixture[str]) -> None:
    assert update_golden.main(["--check"]) == 0
    assert "0 golden file(s) would change" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# Facts of the golden files, asserted directly (each names its rule)


def test_system_message_is_the_filled_template_in_every_golden() -> None:
    # §5: plain replacement of {tools_json} and {source_system}; no trailing newline added
    template_text = (PACKAGE_SPEC_DIR / "system-prompt.txt").read_bytes().decode("utf-8")
    tools = json.dumps(json.loads((PACKAGE_SPEC_DIR / "tools.json").read_bytes().decode("utf-8")), ensure_ascii=False)
    source_system = SERA_SYSTEM
    expected = template_text.replace("{tools_json}", tools).replace("{source_system}", source_system)
    for name in CONVERTING:
        messages = golden_list(name)
        assert messages[0] == {"role": "system", "content": expected}, name
        assert messages[0]["content"].endswith(source_system)
        assert len(messages) % 3 == 1 and len(messages) >= 4  # §6: 3k + 4


def test_tinydb_commentary_kept_and_submit_cycle_kept() -> None:
    rows = json.loads(SERA_ROWS_FILE.read_bytes())
    source = json.loads(rows[0]["messages"])
    messages = golden_list("tinydb_10309")
    assert len(messages) == 52
    # §4: "<think>I need ...</think>\nLet me clean up ..." -> inner, blank line, commentary, inside one block
    assert source[32]["thought"].startswith("<think>I need to clean up") and "</think>\nLet me clean up" in source[32]["thought"]
    assert messages[47]["content"] == (
        "<think>I need to clean up the test files I created and submit again. Let me remove them.\n\n"
        "Let me clean up the test files I created and submit again:</think>"
    )
    # §3: submit (history 30) -> review -> clean-up (32) -> submit (34): the first submit is an ordinary cycle
    assert messages[45] == {"role": "tool_call", "content": '<tool_call>{"name": "submit", "arguments": {}}</tool_call>'}
    assert messages[46]["content"].startswith("<tool_response>Thank you for your work on this issue.")  # §5 prefix stripped
    # the empty-output text has no OBSERVATION prefix: verbatim
    assert messages[49]["content"] == "<tool_response>Your last command ran successfully and did not produce any output.</tool_response>"
    # §3: the answer is the row's rollout_patch
    assert messages[50] == {"role": "reasoning", "content": "<think>Now let me submit again.</think>"}
    assert messages[51] == {"role": "answer", "content": "<answer>" + rows[0]["rollout_patch"] + "</answer>"}


def test_ptyprocess_trailing_submits_trimmed() -> None:
    rows = json.loads(SERA_ROWS_FILE.read_bytes())
    source = json.loads(rows[1]["messages"])
    names = [m["tool_calls"][0]["function"]["name"] for m in source if m["role"] == "assistant"]
    assert names[-2:] == ["submit", "submit"] and names[-3] != "submit"  # a trailing run of two
    messages = golden_list("ptyprocess_10174")
    assert len(messages) == 82
    # §3: the first submit of the run (history 54) is the answer, with its reasoning; the second (56) is dropped
    assert messages[-2]["content"].startswith("<think>Perfect! All tests are passing.")
    assert not any("The submit command is asking me to" in m["content"] for m in messages)
    assert not any(m["content"] == '<tool_call>{"name": "submit", "arguments": {}}</tool_call>' for m in messages)
    assert not any("Thank you for your work on this issue." in m["content"] for m in messages)
    assert messages[-1]["content"] == "<answer>" + rows[1]["rollout_patch"] + "</answer>"


def test_pandas_53652_empty_thoughts_filled_at_the_hashed_template() -> None:
    source = history(f"{PANDAS_53652}.traj")
    assert [i for i, m in enumerate(source) if m["role"] == "assistant" and not (m["thought"] or "").strip()] == [24, 54]
    messages = golden_list(PANDAS_53652)
    assert len(messages) == 112
    # §4: assistant at history 2 + 2k is the reasoning at output 2 + 3k: 24 -> 35, 54 -> 80
    assert (
        messages[35]["content"]
        == "<think>" + template(PANDAS_53652, 35) + "</think>"
        == "<think>Let me keep working toward the fix.</think>"
    )
    assert (
        messages[80]["content"]
        == "<think>" + template(PANDAS_53652, 80) + "</think>"
        == "<think>Let me proceed with the next step of the task.</think>"
    )
    # §4 no think tags: R is the thought stripped
    assert messages[2]["content"] == "<think>" + source[2]["thought"].strip() + "</think>"
    # §5: \r\n kept, OBSERVATION:\n stripped
    assert messages[4]["content"].startswith("<tool_response>/testbed/scripts/pandas_errors_documented.py\r\n")
    # §3: submit at 70 stays a cycle, the clean-up after it too; the answer is info.submission
    assert messages[105]["content"] == '<tool_call>{"name": "submit", "arguments": {}}</tool_call>'
    assert messages[108]["content"].startswith('<tool_call>{"name": "bash", "arguments": {"command": "cd /testbed && rm -f')
    submission = json.loads((SWE_AGENT_DIR / f"{PANDAS_53652}.traj").read_bytes())["info"]["submission"]
    assert messages[-1]["content"] == "<answer>" + submission + "</answer>"


def test_pandas_53856_single_trailing_submit_nothing_trimmed() -> None:
    source = history(f"{PANDAS_53856}.traj")
    submits = [i for i, m in enumerate(source) if m["role"] == "assistant" and m["tool_calls"][0]["function"]["name"] == "submit"]
    assert submits == [30, 34] and source[32]["tool_calls"][0]["function"]["name"] == "bash"
    messages = golden_list(PANDAS_53856)
    assert len(messages) == 52 == 3 * 16 + 4  # 16 steps kept, including the submit at 30; 34 is the answer
    assert messages[-2]["content"] == "<think>Now let's submit again:</think>"
    # §2: arguments holding a list stay JSON (view_range)
    assert any('"view_range": [' in m["content"] for m in messages if m["role"] == "tool_call")


def test_pydantic_8316_answer_reasoning_filled() -> None:
    source = history(f"{PYDANTIC_8316}.traj")
    assert source[44]["thought"] == "" and source[44]["tool_calls"][0]["function"]["name"] == "submit"
    messages = golden_list(PYDANTIC_8316)
    assert len(messages) == 67
    assert (
        messages[65]["content"]
        == "<think>" + template(PYDANTIC_8316, 65) + "</think>"
        == "<think>Let me check the current state before going further.</think>"
    )
    assert messages[66]["role"] == "answer"

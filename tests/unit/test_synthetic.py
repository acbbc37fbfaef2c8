"""Tests for the synthetic row generator and the embedded sample it writes.

Why: the sample in data/sample/ is the input of the quick-start run and of other tests, and the realistic rows
feed the benchmarks; both are only useful if they are reproducible byte for byte, shaped like the published
rows (spec/sources.md), and actually contain every special case they claim to.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

from sera_testkit import synthetic
from sera_testkit.constants import REPO, SAMPLE_DIR, SERA_ROWS_FILE
from sera_testkit.synthetic import CASES, COLUMNS, DATASETS, iter_rows, make_row, sample_case

SEED = 20260125
SAMPLE_ROWS = 25
CALL_ID = re.compile(r"call_[0-9a-f]{24}")


def _load_generate_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate_sample", REPO / "scripts" / "generate_sample.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sample() -> dict[str, list[dict]]:
    """The embedded sample's synthetic rows, by dataset."""
    return {dataset: list(iter_rows(dataset, SAMPLE_ROWS, SEED)) for dataset in DATASETS}


def _rows_of_case(sample: dict[str, list[dict]], case: str | None) -> list[dict]:
    return [rows[i] for dataset, rows in sample.items() for i in range(len(rows)) if sample_case(dataset, i) == case]


def _messages(row: dict) -> list[dict]:
    return json.loads(row["messages"])


def _text(message: dict) -> str:
    content = message["content"]
    return content if isinstance(content, str) else "".join(part["text"] for part in content)


def _calls(messages: list[dict]) -> list[dict]:
    return [call for m in messages if m["role"] == "assistant" for call in m["tool_calls"] or []]


def _call_names(messages: list[dict]) -> list[str]:
    return [call["function"]["name"] for call in _calls(messages)]


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _recall(rollout_patch: str, target_patch: str) -> float:
    """SERA's line-level recall (spec/conversion.md §7), restated here so this test stands alone."""

    def changed(patch: str) -> list[str]:
        return [line for line in patch.splitlines()
                if not line.startswith(("diff", "---", "+++", "@@")) and line[:1] in "+-" and line[1:].strip()]

    produced = changed(rollout_patch)
    matches = 0
    for line in changed(target_patch):
        if line in produced:
            produced.remove(line)
            matches += 1
    return matches / len(changed(target_patch))


def _trailing_submits(row: dict) -> bool:
    messages = _messages(row)
    tools = [m for m in messages if m["role"] == "tool"]
    text_only_between = any(m["role"] == "assistant" and m["tool_calls"] is None for m in messages[-4:])
    return _call_names(messages)[-3:] == ["submit"] * 3 and _text(tools[-1]) == _text(tools[-2]) and text_only_between


def _text_only_mid(row: dict) -> bool:
    messages = _messages(row)
    text_only = [i for i, m in enumerate(messages) if m["role"] == "assistant" and m["tool_calls"] is None]
    return bool(text_only) and _call_names(messages[text_only[0]:])[0] != "submit"


def _odd_arguments(row: dict) -> bool:
    args = [json.loads(call["function"]["arguments"]) for call in _calls(_messages(row))]
    ranges = [a["view_range"] for a in args if a.get("command") == "view" and "view_range" in a]
    has_int_range = any(all(isinstance(v, int) for v in r) for r in ranges)
    return has_int_range and any(isinstance(v, bool) for a in args for v in a.values())


def _unicode(row: dict) -> bool:
    messages = _messages(row)
    thoughts = "".join(m["content"] for m in messages if m["role"] == "assistant")
    outputs = "".join(_text(m) for m in messages if m["role"] == "tool")
    # ordinary rows only have the ✓/✗ marks real rows print; the unicode case goes beyond them
    return not thoughts.isascii() and any(ord(c) > 0x2717 for c in outputs)


CASE_CHECKS: dict[str, Callable[[dict], bool]] = {
    "empty_thought": lambda row: any(
        m["role"] == "assistant" and m["thought"] == "" and m["content"] == "" and m["tool_calls"]
        for m in _messages(row)
    ),
    "missing_thought_key": lambda row: all("thought" not in m for m in _messages(row) if m["role"] == "assistant"),
    "content_as_string": lambda row: all(
        isinstance(m["content"], str) for m in _messages(row) if m["role"] in ("user", "tool")
    ),
    "trailing_submits": _trailing_submits,
    "text_only_mid": _text_only_mid,
    "unclosed_think": lambda row: any(
        m["role"] == "assistant" and "<think>" in m["content"] and "</think>" not in m["content"]
        for m in _messages(row)
    ),
    "reused_call_ids": lambda row: len({c["id"] for c in _calls(_messages(row))}) < len(_calls(_messages(row))),
    "odd_arguments": _odd_arguments,
    "crlf_output": lambda row: any("\r\n" in _text(m) for m in _messages(row) if m["role"] == "tool"),
    "unicode": _unicode,
    "malformed_tool_arguments": lambda row: any(
        not _is_json(c["function"]["arguments"]) for c in _calls(_messages(row))
    ),
    "not_submitted": lambda row: (
        _messages(row)[-1]["tool_calls"] is None
        and _messages(row)[-1]["content"] == "Exit due to cost limit"
        and "submit" not in _call_names(_messages(row))
    ),
    "unknown_tool": lambda row: "find_file" in _call_names(_messages(row)),
    "parallel_tool_calls": lambda row: any(
        m["role"] == "assistant" and len(m["tool_calls"] or []) == 2 for m in _messages(row)
    ),
    "null_metadata": lambda row: row["func_name"] is None and row["func_path"] is None and row["rollout_patch"] is None,
    "messages_not_json": lambda row: not _is_json(row["messages"]),
}


def test_same_arguments_give_the_same_row() -> None:
    for size in synthetic.SIZES:
        assert make_row(DATASETS[3], 5, SEED, size) == make_row(DATASETS[3], 5, SEED, size)
    assert make_row(DATASETS[0], 7, SEED, case="unicode") == make_row(DATASETS[0], 7, SEED, case="unicode")


def test_other_seed_or_index_gives_another_row() -> None:
    row = make_row(DATASETS[1], 2, SEED)
    assert make_row(DATASETS[1], 2, SEED + 1)["messages"] != row["messages"]
    assert make_row(DATASETS[1], 3, SEED)["messages"] != row["messages"]


def test_unknown_arguments_are_refused() -> None:
    with pytest.raises(ValueError):
        make_row("Sera-9-T1", 0, SEED)
    with pytest.raises(ValueError):
        make_row(DATASETS[0], 0, SEED, size="huge")
    with pytest.raises(ValueError):
        make_row(DATASETS[0], 0, SEED, case="no_such_case")


def test_rows_have_the_eight_published_columns(sample: dict[str, list[dict]]) -> None:
    assert COLUMNS == ("messages", "instance_id", "rollout_patch", "func_name", "func_path", "problem_statement",
                       "target_patch", "docker_image")
    for rows in sample.values():
        for row in rows:
            assert tuple(row) == COLUMNS
            assert all(value is None or isinstance(value, str) for value in row.values())


def test_messages_start_with_system_then_user(sample: dict[str, list[dict]]) -> None:
    for rows in sample.values():
        for row in rows:
            if not _is_json(row["messages"]):
                continue  # the messages_not_json case, checked below
            messages = _messages(row)
            assert isinstance(messages, list)
            assert [m["role"] for m in messages[:2]] == ["system", "user"]
            assert row["messages"].isascii()  # json.dumps default, like the published string


def test_target_patch_is_empty_for_t1_and_a_diff_for_t2(sample: dict[str, list[dict]]) -> None:
    for dataset, rows in sample.items():
        for row in rows:
            if dataset.endswith("T1"):
                assert row["target_patch"] == ""
            else:
                assert row["target_patch"].startswith("diff --git a/")


def test_t2_recall_is_between_zero_and_one_and_sometimes_one(sample: dict[str, list[dict]]) -> None:
    recalls = [
        _recall(row["rollout_patch"], row["target_patch"])
        for dataset, rows in sample.items() if dataset.endswith("T2")
        for row in rows if row["rollout_patch"]
    ]
    assert all(0 < r <= 1 for r in recalls)
    assert any(r == 1 for r in recalls) and any(r < 1 for r in recalls)


def test_ordinary_rows_have_the_real_shape(sample: dict[str, list[dict]]) -> None:
    rows = _rows_of_case(sample, None)
    endings_with_cleanup = 0
    for row in rows:
        messages = _messages(row)
        assistants = [m for m in messages if m["role"] == "assistant"]
        tools = [m for m in messages if m["role"] == "tool"]
        assert 8 <= len(_calls(messages)) <= 20
        assert all(m["content"] == m["thought"] and m["content"].startswith("<think>") for m in assistants)
        assert all(len(m["tool_calls"]) == 1 and m["tool_calls"][0]["index"] == -1 for m in assistants)
        assert all(CALL_ID.fullmatch(c["id"]) for c in _calls(messages))
        assert [m["role"] for m in messages[2:]] == ["assistant", "tool"] * len(assistants)
        assert [i for i, m in enumerate(messages) if "cache_control" in m] == [len(messages) - 3, len(messages) - 1]
        assert _call_names(messages)[-1] == "submit" and _call_names(messages).count("submit") == 2
        submit_outputs = [_text(messages[i + 1]) for i, m in enumerate(messages)
                          if m["role"] == "assistant" and m["tool_calls"][0]["function"]["name"] == "submit"]
        assert submit_outputs[0].startswith("OBSERVATION:\nThank you for your work on this issue.")
        assert submit_outputs[1] == _text(tools[-1]) == "OBSERVATION:\n" + row["rollout_patch"]
        endings_with_cleanup += _text(tools[-2]) == synthetic.EMPTY_OUTPUT
    assert 0 < endings_with_cleanup < len(rows)  # both endings of the real rows occur


def test_every_case_is_in_the_sample_and_shows_its_feature(sample: dict[str, list[dict]]) -> None:
    for case in CASES:
        rows = _rows_of_case(sample, case)
        assert rows, f"{case} never appears in the sample"
        assert all(CASE_CHECKS[case](row) for row in rows), case
    assert set(CASE_CHECKS) == set(CASES)


def test_sample_rows_are_small(sample: dict[str, list[dict]]) -> None:
    sizes = [len(json.dumps(row)) for rows in sample.values() for row in rows]
    assert 5_000 <= min(sizes) and max(sizes) <= 60_000
    assert sum(sizes) / len(sizes) <= 30_000


def test_realistic_rows_match_the_published_sizes() -> None:
    rows = [make_row(DATASETS[i % 4], i, SEED, "realistic") for i in range(30)]
    sizes = [len(json.dumps(row)) for row in rows]
    calls = [len(_calls(_messages(row))) for row in rows]
    assert 100_000 <= sum(sizes) / len(sizes) <= 300_000
    assert all(13 <= n <= 112 for n in calls)
    assert 30 <= sum(calls) / len(calls) <= 55


def test_realistic_iter_rows_are_all_ordinary() -> None:
    rows = list(iter_rows(DATASETS[1], 3, SEED, size="realistic"))
    assert rows == [make_row(DATASETS[1], i, SEED, "realistic") for i in range(3)]


def test_checked_in_sample_is_up_to_date(tmp_path: Path) -> None:
    """Regenerating gives byte-identical files: catches a stale data/sample/ and any non-determinism."""
    _load_generate_script().generate(tmp_path, SEED)
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    checked_in = sorted(p.relative_to(SAMPLE_DIR) for p in SAMPLE_DIR.rglob("*") if p.is_file())
    assert fresh == checked_in
    for relative in fresh:
        assert (tmp_path / relative).read_bytes() == (SAMPLE_DIR / relative).read_bytes(), relative
    assert sum((SAMPLE_DIR / p).stat().st_size for p in checked_in) < 4_000_000


def test_sample_files_hold_iter_rows_and_the_real_rows_unchanged(sample: dict[str, list[dict]]) -> None:
    script = _load_generate_script()
    for dataset, rows in sample.items():
        lines = (SAMPLE_DIR / script.sample_file(dataset)).read_text(encoding="utf-8").splitlines()
        assert [json.loads(line) for line in lines] == rows
    real = json.loads(SERA_ROWS_FILE.read_text("utf-8"))
    lines = (SAMPLE_DIR / script.REAL_FILE).read_text(encoding="utf-8").splitlines()
    assert [list(json.loads(line).items()) for line in lines] == [list(row.items()) for row in real]

"""docs/training.md is run, not only read.

- The LLaMA-Factory reshaping function is taken from the doc (the ```python block right after the heading
  "### Reshaping for LLaMA-Factory") and run on SFT rows made from the three real rows of
  allenai/Sera-4.6-Lite-T2 (tests/fixtures/sera/), converted as the pipeline converts them. Its output must
  have the sharegpt shape LLaMA-Factory's data/README.md asks for (human / observation at odd positions,
  gpt / function_call at even ones, `tools` a JSON string), function calls its FunctionFormatter can parse,
  and every text of the row.
- Every `make` target the doc names is a Makefile rule, the Makefile's subset-sera32b runs the doc's plain
  dbt command, and every repository path and relative link the doc names exists.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from sera_rectify import convert, sft
from sera_rectify.spec import tool_schemas
from sera_testkit.constants import REPO
from sera_testkit.constants import SERA_ROWS_DATASET as DATASET

DOC = REPO / "docs" / "training.md"
HEADING = "### Reshaping for LLaMA-Factory"
# LLaMA-Factory's qwen3 thought words ("<think>\n", "\n</think>\n\n"), as its FunctionFormatter matches them
THOUGHT = re.compile(r"<think>\n(.*?)\n</think>\n\n", re.DOTALL)
ODD_TAGS, EVEN_TAGS = ("human", "observation"), ("gpt", "function_call")
# first path components of the repository's own files (anything else in backticks is output or another repo)
REPO_DIRS = ("models", "python", "tests", "docs", "macros", "seeds", "data", "queries", "scripts", "bench")
REPO_FILES = ("Makefile", "README.md", "dbt_project.yml", "profiles.yml", "pyproject.toml")

Row = tuple[list[dict], list[dict]]


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def block_after(text: str, marker: str, language: str) -> str:
    """The fenced block of `language` that comes first after `marker` (only blank lines or prose between)."""
    assert marker in text, f"docs/training.md has no {marker!r}"
    match = re.search(rf"^```{language}\n(.*?)^```$", text.split(marker, 1)[1], re.DOTALL | re.MULTILINE)
    assert match, f"no ```{language} block after {marker!r} in docs/training.md"
    return match.group(1)


@pytest.fixture(scope="module")
def to_llamafactory() -> Callable[[list[dict], list[dict]], dict]:
    text = doc_text()
    after = text.split(HEADING, 1)[1] if HEADING in text else ""
    assert after.lstrip("\n").startswith("```python\n"), f"the block right after {HEADING!r} must be ```python"
    namespace: dict = {}
    exec(compile(block_after(text, HEADING, "python"), f"{DOC}: {HEADING}", "exec"), namespace)
    return namespace["to_llamafactory"]


@pytest.fixture(scope="module")
def sft_rows(sera_rows: list[dict]) -> list[Row]:
    """The SFT file's (messages, tools) of the real rows, as load_dataset returns them (JSON decoded)."""
    rows = []
    for row in sera_rows:
        converted = convert.convert_trajectory(
            row["messages"], dataset=DATASET, instance_id=row["instance_id"], rollout_patch=row["rollout_patch"]
        )
        assert isinstance(converted, convert.Converted), converted
        messages = json.loads(sft.dump_sft_messages(sft.sft_messages_of(converted)))
        rows.append((messages, json.loads(json.dumps(tool_schemas()))))
    assert len(rows) == 3
    return rows


@pytest.fixture(scope="module")
def examples(to_llamafactory, sft_rows: list[Row]) -> list[dict]:
    return [to_llamafactory(messages, tools) for messages, tools in sft_rows]


# ---------------------------------------------------------------------------------------------
# the reshaping function: LLaMA-Factory's sharegpt shape


def test_examples_have_the_columns_of_the_documented_dataset_info_entry(examples: list[dict]) -> None:
    entry = json.loads(block_after(doc_text(), "`LLaMA-Factory/data/dataset_info.json`", "json"))
    (attributes,) = entry.values()
    assert attributes["formatting"] == "sharegpt"
    assert sorted(attributes["columns"].values()) == ["conversations", "system", "tools"]
    for example in examples:
        assert set(example) == set(attributes["columns"].values())


def test_roles_alternate_as_llamafactory_requires(examples: list[dict]) -> None:
    """data/README.md: human and observation at odd positions, gpt and function at even positions; its
    SharegptDatasetConverter skips a row that breaks this or has an odd number of turns."""
    for example in examples:
        roles = [turn["from"] for turn in example["conversations"]]
        assert len(roles) % 2 == 0
        for position, role in enumerate(roles, start=1):
            assert role in (ODD_TAGS if position % 2 else EVEN_TAGS), (position, role)
        assert roles[0] == "human" and roles[-1] == "gpt"
        assert all(isinstance(turn["value"], str) for turn in example["conversations"])


def test_every_function_call_is_followed_by_its_observation(examples: list[dict]) -> None:
    for example in examples:
        roles = [turn["from"] for turn in example["conversations"]]
        calls = [i for i, role in enumerate(roles) if role == "function_call"]
        assert calls, "the real rows all call tools"
        assert all(roles[i + 1] == "observation" for i in calls)
        assert roles.count("observation") == len(calls)


def test_function_calls_parse_as_llamafactorys_formatter_parses_them(examples: list[dict], sft_rows: list[Row]) -> None:
    """FunctionFormatter takes the thought out, json.loads the rest and reads name and arguments (an object:
    a string would be written quoted)."""
    for example, (messages, _) in zip(examples, sft_rows, strict=True):
        source_calls = [call["function"] for m in messages for call in m.get("tool_calls") or []]
        values = [turn["value"] for turn in example["conversations"] if turn["from"] == "function_call"]
        assert len(values) == len(source_calls)
        for value, source in zip(values, source_calls, strict=True):
            thought = THOUGHT.match(value)
            assert thought, value[:200]
            call = json.loads(value[thought.end() :])
            assert set(call) == {"name", "arguments"} and isinstance(call["arguments"], dict)
            assert call == {"name": source["name"], "arguments": json.loads(source["arguments"])}


def test_no_text_is_lost(examples: list[dict], sft_rows: list[Row]) -> None:
    """Each message after the system one is one turn: the user text, every tool output, every reasoning and
    the answer are there, whole."""
    for example, (messages, tools) in zip(examples, sft_rows, strict=True):
        assert messages[0]["role"] == "system" and example["system"] == messages[0]["content"] != ""
        assert isinstance(example["tools"], str) and json.loads(example["tools"]) == tools
        turns = example["conversations"]
        assert len(turns) == len(messages) - 1
        for message, turn in zip(messages[1:], turns, strict=True):
            if message["role"] in ("user", "tool"):
                assert turn["value"] == message["content"]
                continue
            thought = THOUGHT.match(turn["value"])
            assert thought and thought.group(1) == message["reasoning_content"] != ""
            if turn["from"] == "gpt":
                assert turn["value"][thought.end() :] == message["content"] != ""
        answer = messages[-1]
        assert turns[-1]["value"] == f"<think>\n{answer['reasoning_content']}\n</think>\n\n{answer['content']}"


def test_parallel_calls_become_a_list_and_text_beside_calls_is_refused(to_llamafactory) -> None:
    call = {"type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "reasoning_content": "r", "content": "", "tool_calls": [call, {**call, "id": "2"}]},
        {"role": "tool", "content": "o"},
        {"role": "assistant", "reasoning_content": "r2", "content": "done"},
    ]
    example = to_llamafactory(messages, [])
    assert json.loads(THOUGHT.sub("", example["conversations"][1]["value"])) == [{"name": "bash", "arguments": {"command": "ls"}}] * 2
    messages[2]["content"] = "text beside the calls"
    with pytest.raises(ValueError):
        to_llamafactory(messages, [])


# ---------------------------------------------------------------------------------------------
# what the doc names exists


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z0-9][\w.-]*):(?!=)", (REPO / "Makefile").read_text(encoding="utf-8"), re.MULTILINE))


def test_every_make_target_the_doc_names_exists() -> None:
    named = set(re.findall(r"(?:^|`)make ([a-z][\w-]*)", doc_text(), re.MULTILINE))
    assert "subset-sera32b" in named
    assert named <= makefile_targets(), named - makefile_targets()


def dbt_vars(command: str) -> dict:
    words = shlex.split(command)
    return yaml.safe_load(words[words.index("--vars") + 1])


@pytest.mark.skipif(shutil.which("make") is None, reason="no make on the PATH")
def test_make_subset_sera32b_runs_the_documented_dbt_command() -> None:
    """`make -n` prints the recipe without running it: the target's vars are the doc's plain command's,
    and TOKENIZER / MIN_RECALL / MAX_TOKENS reach them."""
    plain = next(
        line for line in doc_text().splitlines() if line.startswith("DBT_PROFILES_DIR=. .venv/bin/dbt build") and "sera32b/" in line
    )

    def recipe(*overrides: str) -> dict:
        printed = subprocess.run(["make", "-n", "-s", "subset-sera32b", *overrides], cwd=REPO, capture_output=True, text=True, check=True)
        line = next(line for line in printed.stdout.splitlines() if " build --vars " in line)
        return dbt_vars(line)

    assert recipe() == dbt_vars(plain)
    assert recipe("TOKENIZER=/tmp/tok", "MIN_RECALL=0.5", "MAX_TOKENS=32767") == {
        **dbt_vars(plain),
        "tokenizer": "/tmp/tok",
        "min_recall": 0.5,
        "max_tokens": 32767,
    }


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {slug(line.lstrip("#")) for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("#")}


def test_every_repository_path_and_relative_link_the_doc_names_exists() -> None:
    text = doc_text()
    checked = []
    # a path inside a link to another repository (`docs/source/sft_trainer.md` of TRL) is that repository's
    local_text = re.sub(r"\[[^\]]*\]\(https?:[^)]*\)", "", text)
    for token in re.findall(r"`([^`\s]+)`", local_text):
        path = token.rstrip("/")
        if path in REPO_FILES or (path.split("/")[0] in REPO_DIRS and "/" in path):
            candidates = [REPO / path, REPO / f"{path}.py", REPO / f"{path}.sql"]  # a dbt model is named without suffix
            assert any(candidate.exists() for candidate in candidates), f"docs/training.md names `{token}`, which does not exist"
            checked.append(path)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue
        file_part, _, anchor = target.partition("#")
        linked = (DOC.parent / file_part).resolve() if file_part else DOC
        assert linked.exists(), f"docs/training.md links to {target}, which does not exist"
        if anchor:
            assert anchor in anchors(linked), f"docs/training.md links to {target}: no such heading"
        checked.append(target)
    assert len(checked) >= 10, checked  # the check is not vacuous
    for name in ("python/sera_rectify/tokens.py", "python/sera_rectify/upload.py", "models/staging/training/stg_training__tokenizer"):
        assert name in checked

"""Flag codes: what a converted row may carry in its `flags` column, in one place (docs/flags.md).

A flag never rejects a row: the DuckDB tables keep every converted row, and the var `exclude_flags`
drops the flagged ones from both exports. `MEANINGS` says where each code is decided and what it
means; the dbt model stg_spec__flags serves that table to SQL (the check of `exclude_flags`, the test
that every flag is known, the card's counts).

The scaffold-artefact rules are pure functions of one converted row (its untagged texts,
convert.Converted.texts), so they apply to every source format the converter reads: rows.output_row
stores their codes as `artefact_flags`. The other codes need more than one row (duplicate, the
benchmark) or metadata columns (unresolved, the format adapters' counters) and are decided in SQL
(models/intermediate/int_trajectories_flagged.sql).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .render import ToolCall

# dataset level (SQL): the benchmark given in the var `benchmark`, and the rows compared with each other
BENCHMARK_REPO = "benchmark_repo"
BENCHMARK_TEXT = "benchmark_text"
DUPLICATE = "duplicate"
# source metadata (SQL)
UNRESOLVED = "unresolved"
DROPPED_NUDGES = "dropped_nudges"
DROPPED_FORMAT_ERRORS = "dropped_format_errors"
# scaffold artefacts found in the row itself (this module)
LIMIT_AUTOSUBMIT = "limit_autosubmit"
TRUNCATED_OUTPUT = "truncated_output"
EMPTY_PATCH = "empty_patch"
TOOL_LOOP = "tool_loop"

# code -> (where it is decided, meaning), in the order a row's `flags` lists them
MEANINGS: dict[str, tuple[str, str]] = {
    BENCHMARK_REPO: ("benchmark", "the row's repository (from docker_image or instance_id) is a repository of the benchmark"),
    BENCHMARK_TEXT: ("benchmark", "the task text in the user message shares a 13-word sequence with a benchmark problem statement"),
    DUPLICATE: ("dataset", "the same messages as an earlier row (source order): a later copy"),
    UNRESOLVED: ("source", "the source says the run did not resolve its task (resolved is false)"),
    DROPPED_NUDGES: ("source", "the format adapter dropped the scaffold's nudges (`Please continue working on the task ...`)"),
    DROPPED_FORMAT_ERRORS: ("source", "the format adapter dropped format-error retries of the scaffold"),
    LIMIT_AUTOSUBMIT: ("row", "the final submit looks added after a cost or step limit (canned reasoning, or `Exit due to ...`)"),
    TRUNCATED_OUTPUT: ("row", "a tool output was cut by the scaffold (`<response clipped>`, `[... Observation truncated ...]`)"),
    EMPTY_PATCH: ("row", "the answer is empty: the submitted patch is empty, or the source holds no patch"),
    TOOL_LOOP: ("row", "the same tool call (name and arguments) 4 or more times in a row"),
}
FLAGS: tuple[str, ...] = tuple(MEANINGS)
BENCHMARK_FLAGS: tuple[str, ...] = (BENCHMARK_REPO, BENCHMARK_TEXT)

# SWE-smith's and SERA's post-processing (transform_traj_xml / transform_traj_hermes) replace the
# assistant message "Exit due to cost limit" with this reasoning and a submit call; SWE-agent itself
# writes "Exit due to <cause>" as the thought of the step it adds when a limit stops the run
# (cost, context window, execution time, repeated format errors) before it autosubmits
CANNED_SUBMIT_REASONING = "Since we have successfully fixed the issue and verified it works, let's submit the changes"
SWE_AGENT_EXIT = re.compile(r"^Exit due to ", re.MULTILINE)
# what the scaffolds put where they cut an output: SWE-agent's observation limit and str_replace_editor's
# `view` ("<response clipped><NOTE>..."), OpenHands' observation limit
TRUNCATION_MARKERS = ("<response clipped>", "[... Observation truncated due to length ...]")
# OpenHands' StuckDetector calls an agent stuck when the same action repeats 4 times in a row
LOOP_LENGTH = 4


def autosubmitted_after_limit(final_reasoning: str) -> bool:
    """The reasoning before the answer is the canned text a post-processing step writes in place of
    SWE-agent's "Exit due to cost limit", or holds such an exit message itself: the run was stopped by
    a limit and its submit is not the model's decision (a run cut off without any submit is already
    the reject not_submitted)."""
    return final_reasoning.lstrip().startswith(CANNED_SUBMIT_REASONING) or SWE_AGENT_EXIT.search(final_reasoning) is not None


def truncated_by_scaffold(outputs: Sequence[str]) -> bool:
    """A tool output carries a scaffold's truncation marker: the model saw part of the output, and a
    trainee learns from the marker as if a tool wrote it."""
    return any(marker in output for output in outputs for marker in TRUNCATION_MARKERS)


def empty_patch(answer: str) -> bool:
    """The answer (the submitted patch, spec/conversion.md §3) holds nothing: the run changed no file, or
    the source kept no patch and the final submit no output. Either way the row teaches a final turn
    without a solution."""
    return not answer.strip()


def longest_repeat(calls: Sequence[ToolCall]) -> int:
    """The longest run of consecutive identical tool calls (same name, same arguments text)."""
    longest = run = 0
    previous = None
    for call in calls:
        run = run + 1 if call == previous else 1
        longest = max(longest, run)
        previous = call
    return longest


def tool_loop(calls: Sequence[ToolCall]) -> bool:
    """LOOP_LENGTH or more identical calls in a row: the agent repeated itself without reacting to the
    outputs, a scaffold failure mode the rows should not teach."""
    return longest_repeat(calls) >= LOOP_LENGTH


def artefact_flags(texts: Sequence[str | ToolCall]) -> list[str]:
    """The scaffold-artefact codes of one converted row, from its untagged texts (convert.Converted.texts:
    system, user, reasoning, (call, output, reasoning)*, answer), in MEANINGS order; [] when clean."""
    calls = [text for text in texts if isinstance(text, ToolCall)]
    outputs = [texts[index + 1] for index, text in enumerate(texts) if isinstance(text, ToolCall)]
    found = {
        LIMIT_AUTOSUBMIT: autosubmitted_after_limit(texts[-2]),
        TRUNCATED_OUTPUT: truncated_by_scaffold(outputs),
        EMPTY_PATCH: empty_patch(texts[-1]),
        TOOL_LOOP: tool_loop(calls),
    }
    return [code for code, present in found.items() if present]


# GitHub owners are letters, digits and hyphens: "__" or "_1776_" / "_s_" after one ends it.
# SWE-bench / SWE-Gym images (sweb.eval.x86_64.django_1776_django-11099, ..._getmoto_s_moto-6868) and
# SWE-smith's (swesmith.x86_64.msiemens_1776_tinydb.10644a0e) write "owner/name" as owner_1776_name or
# owner_s_name, then the task number or the commit
IMAGE_REPO = re.compile(
    r"(?:sweb\.eval|swesmith)\.[^.]+\.(?P<owner>[A-Za-z0-9-]+)_(?:1776|s)_(?P<name>.+?)(?:-\d+|\.[0-9a-f]{7,})?(?::.*)?$"
)
# SWE-bench, SWE-Gym and SWE-smith instance ids (django__django-11099, python__mypy-15976_0,
# pandas-dev__pandas.95280573.pr_53652), also at the end of a longer name (a .traj file's)
INSTANCE_REPO = re.compile(r"(?:^|_)(?P<owner>[A-Za-z0-9-]+)__(?P<name>(?:[A-Za-z0-9.-]|_(?!_))+?)(?:-\d+(?:_\d+)?$|\.[0-9a-f]{7,}\.)")


def row_repository(instance_id: str | None, docker_image: str | None) -> str | None:
    """The row's GitHub repository as lower-case "owner/name" (the form of SWE-bench's `repo` column),
    from the docker image when the row names one (SERA's instance ids, e.g. tinydb_10309, omit the
    owner), else from a SWE-bench-style instance id; None when neither says."""
    for pattern, text in ((IMAGE_REPO, docker_image), (INSTANCE_REPO, instance_id)):
        match = pattern.search(text) if text else None
        if match:
            return f"{match['owner']}/{match['name']}".lower()
    return None

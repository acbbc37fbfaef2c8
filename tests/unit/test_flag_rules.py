"""The flag rules of sera_rectify.flags: each artefact rule on real rows where one applies, on real-shaped
histories where none does, the repository of a row, and the one list of codes that SQL shares."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from sera_rectify import flags
from sera_rectify.render import ToolCall
from sera_rectify.rows import output_row
from sera_testkit.constants import COST_LIMIT_EXIT, OTHER_FORMATS_DIR, REPO, SERA_ROWS_DATASET


def real_row(path: Path, instance_id: str) -> dict:
    """A published row of tests/fixtures/other-formats/ (see its ATTRIBUTION.md)."""
    return next(row for row in json.loads(path.read_text(encoding="utf-8")) if row["instance_id"] == instance_id)


def converted_flags(messages, rollout_patch: str | None = "diff --git a/x b/x\n", instance_id: str = "x_1") -> list[str]:
    """The artefact_flags the conversion stores for a source row (rows.output_row, the workers' call)."""
    row = output_row({"messages": messages, "instance_id": instance_id, "rollout_patch": rollout_patch}, SERA_ROWS_DATASET, "T1")
    assert row.get("reject_reason") is None, row
    return row["artefact_flags"]


def test_the_real_sera_rows_are_clean(sera_rows: list[dict]) -> None:
    for row in sera_rows:
        assert output_row(row, SERA_ROWS_DATASET, "T2")["artefact_flags"] == [], row["instance_id"]


def test_a_real_str_replace_editor_view_clipped_by_swe_agent_is_truncated_output(swe_agent_fixture) -> None:
    history, submission = swe_agent_fixture("swe-smith__pandas-dev__pandas.95280573.pr_53856.traj")
    assert converted_flags(history, submission) == [flags.TRUNCATED_OUTPUT]
    # the other two SWE-smith runs name the marker only in their configuration, never in an output
    for name in ("swe-smith__pandas-dev__pandas.95280573.pr_53652.traj", "swe-smith__pydantic__pydantic.acb0f10f.pr_8316.traj"):
        history, submission = swe_agent_fixture(name)
        assert converted_flags(history, submission) == [], name


@pytest.mark.parametrize(
    "output",
    [
        "  1518     ) -> str:\r\n  15<response clipped><NOTE>To save on context only part of this file has been shown to you.</NOTE>",
        "tags.py\r\nfleets.py\n[... Observation truncated due to length ...]\nace/getmoto__moto__4.1/tests",
    ],
)
def test_each_scaffold_truncation_marker_counts(H, output: str) -> None:
    assert converted_flags(H.history(H.call(output=output), H.submit("diff --git a/x b/x\n"))) == [flags.TRUNCATED_OUTPUT]


def test_the_canned_submit_of_post_processing_is_limit_autosubmit(H) -> None:
    """SWE-smith's published pyupio__safety.7654596b.pr_552 ends with the text its post-processing writes in
    place of SWE-agent's "Exit due to cost limit" (SERA's does the same), and has no patch."""
    row = real_row(OTHER_FORMATS_DIR / "swe-smith-xml" / "swe-smith-xml_rows.json", "pyupio__safety.7654596b.pr_552")
    assert output_row(row, "swe_smith", "T1", source_format="swe-smith-xml")["artefact_flags"] == [flags.LIMIT_AUTOSUBMIT, flags.EMPTY_PATCH]
    canned = H.submit(think=None, commentary=flags.CANNED_SUBMIT_REASONING + ":")
    assert converted_flags(H.history(H.call(), canned, H.submit("diff --git a/x b/x\n"))) == [flags.LIMIT_AUTOSUBMIT]


def test_a_swe_agent_exit_message_before_the_final_submit_is_limit_autosubmit(H) -> None:
    history = H.history(H.call(), H.text_only(COST_LIMIT_EXIT), H.submit("diff --git a/x b/x\n"))
    assert converted_flags(history) == [flags.LIMIT_AUTOSUBMIT]
    # the words elsewhere in a reasoning are no exit message
    assert not flags.autosubmitted_after_limit("I will not exit due to cost limits.\nExiting the loop now.")


@pytest.mark.parametrize("patch", ["", "\n  \n"])
def test_an_empty_patch_as_the_answer_is_empty_patch(H, patch: str) -> None:
    assert converted_flags(H.minimal(), rollout_patch=patch) == [flags.EMPTY_PATCH]


def test_a_real_openhands_run_repeating_a_call_is_a_tool_loop() -> None:
    row = real_row(OTHER_FORMATS_DIR / "openhands" / "openhands_rows.json", "getmoto__moto-6387_0")
    converted = output_row(row, "swe_gym", "T1", source_format="openhands")
    assert converted["artefact_flags"] == [flags.TRUNCATED_OUTPUT, flags.TOOL_LOOP]
    assert converted["n_dropped_nudges"] == 1 and converted["resolved"] is True


def test_the_same_call_four_times_in_a_row_is_a_tool_loop(H) -> None:
    same = H.call("bash", {"command": "python reproduce.py"}, "Traceback ...\n")
    other = H.call("bash", {"command": "ls"}, "a.py\n")
    submit = H.submit("diff --git a/x b/x\n")
    assert converted_flags(H.history(*[same] * 4, submit)) == [flags.TOOL_LOOP]
    assert converted_flags(H.history(*[same] * 3, other, *[same] * 3, submit)) == []


def test_longest_repeat_compares_name_and_arguments() -> None:
    ls, ls_tmp = ToolCall("bash", '{"command": "ls"}'), ToolCall("bash", '{"command": "ls /tmp"}')
    assert flags.longest_repeat([]) == 0
    assert flags.longest_repeat([ls, ls, ls_tmp, ls, ls, ls]) == 3
    assert flags.longest_repeat([ls, ToolCall("str_replace_editor", ls.arguments_json)]) == 1


def test_codes_are_listed_in_meanings_order(H) -> None:
    same = H.call("bash", {"command": "cat big.txt"}, "x\n<response clipped>")
    assert converted_flags(H.history(*[same] * 5, H.submit(None)), rollout_patch="") == [
        flags.TRUNCATED_OUTPUT,
        flags.EMPTY_PATCH,
        flags.TOOL_LOOP,
    ]


@pytest.mark.parametrize(
    "instance_id, docker_image, repo",
    [
        # SERA (tests/fixtures/sera): the owner only in the SWE-smith image
        ("tinydb_10309", "jyangballin/swesmith.x86_64.msiemens_1776_tinydb.10644a0e", "msiemens/tinydb"),
        ("ptyprocess_10174", "jyangballin/swesmith.x86_64.pexpect_1776_ptyprocess.1067dbda", "pexpect/ptyprocess"),
        ("tinydb_10309", None, None),
        # SWE-bench, SWE-Gym (OpenHands runs, with a run suffix) and SWE-smith instance ids
        ("django__django-11099", None, "django/django"),
        ("scikit-learn__scikit-learn-10297", None, "scikit-learn/scikit-learn"),
        ("Project-MONAI__MONAI-5686_4", None, "project-monai/monai"),
        ("pyutils__line_profiler.a646bf0f.100", None, "pyutils/line_profiler"),
        ("pandas-dev__pandas.95280573.func_pm_ctrl_shuffle__exr40ij2", None, "pandas-dev/pandas"),
        # .traj files: the instance id from a file name with a prefix
        ("swe-smith__pandas-dev__pandas.95280573.pr_53652", None, "pandas-dev/pandas"),
        ("demo-default__marshmallow-code__marshmallow-1867", None, "marshmallow-code/marshmallow"),
        ("gpt4__swe-agent__test-repo-i1", None, None),
        # SWE-bench and SWE-Gym images
        (None, "swebench/sweb.eval.x86_64.django_1776_django-11099:latest", "django/django"),
        (None, "xingyaoww/sweb.eval.x86_64.getmoto_s_moto-6868", "getmoto/moto"),
    ],
)
def test_row_repository(instance_id: str | None, docker_image: str | None, repo: str | None) -> None:
    assert flags.row_repository(instance_id, docker_image) == repo


def test_the_real_rows_name_their_repository(sera_rows: list[dict]) -> None:
    assert [output_row(row, SERA_ROWS_DATASET, "T2")["repo"] for row in sera_rows] == ["msiemens/tinydb", "pexpect/ptyprocess", "cantools/cantools"]


def test_the_sql_writes_the_codes_of_this_module_in_its_order() -> None:
    """int_trajectories_flagged writes the dataset- and source-level codes as literals, then the row's
    artefact codes: together every code of MEANINGS, in MEANINGS order (the order of a row's flags)."""
    sql = (REPO / "models" / "intermediate" / "int_trajectories_flagged.sql").read_text(encoding="utf-8")
    written = re.findall(r"if\([^,]+, '([a-z_]+)', null\)", sql)
    row_level = [code for code, (decided_from, _) in flags.MEANINGS.items() if decided_from == "row"]
    assert written + row_level == list(flags.FLAGS)
    assert set(flags.BENCHMARK_FLAGS) == {code for code, (decided_from, _) in flags.MEANINGS.items() if decided_from == "benchmark"}

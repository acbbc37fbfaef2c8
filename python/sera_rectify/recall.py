"""line_level_recall: SERA's soft-verification score of a T2 rollout (spec/conversion.md §7).

Same algorithm as `compare_patch_recall` in allenai/SERA (sera/datagen/data/eval/eval.py), keeping
the ratio instead of the thresholded bool.
"""

from __future__ import annotations

from collections import Counter

DIFF_HEADER_PREFIXES = ("diff", "---", "+++", "@@")


def changed_lines(patch: str) -> list[str]:
    """The +/- lines of a unified diff that carry text, sign included (headers and blank changes skipped).

    Lines are split with str.splitlines(), as the reference does, so \\r\\n and the other line
    breaks Python honours split the same way.
    """
    return [
        line
        for line in patch.splitlines()
        if not line.startswith(DIFF_HEADER_PREFIXES) and line.startswith(("+", "-")) and line[1:].strip()
    ]


def line_level_recall(rollout_patch: str | None, target_patch: str | None) -> float | None:
    """Share of the target's changed lines that the rollout also produced (multiset match).

    None when either patch is null or the target changes no line: recall is undefined there.
    """
    if rollout_patch is None or target_patch is None:
        return None
    target = changed_lines(target_patch)
    if not target:
        return None
    produced = Counter(changed_lines(rollout_patch))
    matches = 0
    for line in target:
        if produced[line] > 0:
            produced[line] -= 1
            matches += 1
    return matches / len(target)

"""line_level_recall (../shared/spec/conversion.md §7) against a private reference written from the spec's
words (recall.py is not imported for it), on thousands of generated patch pairs and on hand cases."""

from __future__ import annotations

import random

import pytest

from sera_rectify.recall import line_level_recall

# ---------------------------------------------------------------------------------------------
# The reference, from §7: "Take each patch's lines (Python str.splitlines() semantics), skip lines
# starting with diff, ---, +++ or @@, keep lines starting with + or - whose text after the sign is not
# blank; count target lines that match a produced line exactly (sign included), each produced line
# matching at most once (multiset); recall = matches / number of target lines. Null when the target has
# no such lines, when either patch is null."


def reference_changed_lines(patch: str) -> list[str]:
    kept = []
    for line in patch.splitlines():
        if line.startswith("diff") or line.startswith("---") or line.startswith("+++") or line.startswith("@@"):
            continue
        if line[:1] in ("+", "-") and line[1:].strip() != "":
            kept.append(line)
    return kept


def reference_recall(rollout_patch: str | None, target_patch: str | None) -> float | None:
    if rollout_patch is None or target_patch is None:
        return None
    target = reference_changed_lines(target_patch)
    if len(target) == 0:
        return None
    unused = reference_changed_lines(rollout_patch)
    matches = 0
    for line in target:
        if line in unused:
            unused.remove(line)  # each produced line matches at most once
            matches += 1
    return matches / len(target)


# ---------------------------------------------------------------------------------------------
# Generated pairs

# every line break str.splitlines() honours
LINE_BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
WORDS = ["x = 1", "return x", "import os", "", "  ", "\t", "pass", "self._handle.write(data)", "# ✓ done", "a\x1fb", "\xa0", "é"]
HEADERS = [
    "diff --git a/tinydb/storages.py b/tinydb/storages.py",
    "--- a/tinydb/storages.py",
    "+++ b/tinydb/storages.py",
    "@@ -144,8 +144,7 @@ class JSONStorage(Storage):",
    "index 9c97ce4..d5a2db7 100644",
    "---",
    "+++",
    "@@",
    "diffuse",
    "new file mode 100644",
]


def random_line(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.15:
        return rng.choice(HEADERS)
    if kind < 0.25:
        return " " + rng.choice(WORDS)  # context
    if kind < 0.32:
        return rng.choice(["+", "-", "+ ", "-  ", "+\t", "-\xa0", "+\u3000"])  # blank changes
    if kind < 0.38:
        return rng.choice(["-- comment", "++x", "+@@ not a header", "-diff", "+--- y", "+++z", "---w", "+-", "-+"])
    if kind < 0.40:
        return rng.choice(WORDS)  # no sign at all
    sign = rng.choice("+-")
    return sign + rng.choice(["", "    ", "\t"]) + rng.choice(WORDS[:3] + WORDS[5:]) + rng.choice(["", " ", "  "])


def random_patch(rng: random.Random, lines: list[str] | None = None) -> str:
    if lines is None:
        lines = [random_line(rng) for _ in range(rng.randint(0, 25))]
    text = ""
    for line in lines:
        text += line + rng.choice(LINE_BREAKS)
    if text and rng.random() < 0.3:
        text = text[: -1]  # no final line break (or a split "\r\n")
    return text


def random_pair(rng: random.Random) -> tuple[str | None, str | None]:
    target_lines = [random_line(rng) for _ in range(rng.randint(0, 25))]
    mode = rng.random()
    if mode < 0.4:  # the rollout re-does part of the target, plus its own lines, in another order
        rollout_lines = [line for line in target_lines if rng.random() < 0.7] + [random_line(rng) for _ in range(rng.randint(0, 8))]
        rng.shuffle(rollout_lines)
    elif mode < 0.55:  # duplicates
        rollout_lines = target_lines + [rng.choice(target_lines) for _ in range(3)] if target_lines else []
    elif mode < 0.65:  # same lines, other line breaks
        rollout_lines = list(target_lines)
    else:
        rollout_lines = [random_line(rng) for _ in range(rng.randint(0, 25))]
    target = random_patch(rng, target_lines)
    rollout = random_patch(rng, rollout_lines)
    if rng.random() < 0.03:
        target = None
    if rng.random() < 0.03:
        rollout = None
    return rollout, target


@pytest.mark.parametrize("seed", range(4))
def test_line_level_recall_matches_the_reference_on_generated_pairs(seed: int) -> None:
    rng = random.Random(seed)
    values = []
    for _ in range(1000):
        rollout, target = random_pair(rng)
        expected = reference_recall(rollout, target)
        assert line_level_recall(rollout, target) == expected, (rollout, target)
        values.append(expected)
    # the generator reaches every kind of outcome
    assert None in values and 0.0 in values and 1.0 in values
    assert any(value is not None and 0.0 < value < 1.0 for value in values)


def test_generated_patches_use_every_line_break() -> None:
    rng = random.Random(0)
    text = "".join(random_patch(rng) for _ in range(200))
    for line_break in LINE_BREAKS:
        assert line_break in text
    assert all(len(("a" + line_break + "b").splitlines()) == 2 for line_break in LINE_BREAKS)


# ---------------------------------------------------------------------------------------------
# Hand cases

PATCH = (
    "diff --git a/tinydb/storages.py b/tinydb/storages.py\n"
    "index 9c97ce4..d5a2db7 100644\n"
    "--- a/tinydb/storages.py\n"
    "+++ b/tinydb/storages.py\n"
    "@@ -144,8 +144,7 @@ class JSONStorage(Storage):\n"
    " \n"
    "         try:\n"
    "-            if os.path.exists(self._handle.name):\n"
    "-                self._handle.write(serialized)\n"
    "+            self._handle.write(serialized)\n"
    "         except io.UnsupportedOperation:\n"
)


@pytest.mark.parametrize(
    "rollout, target, recall",
    [
        # null patches
        (None, PATCH, None),
        (PATCH, None, None),
        (None, None, None),
        # the target has no changed line
        (PATCH, "", None),
        (PATCH, "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n context\n", None),
        (PATCH, "+\n-   \n+\t\n", None),  # blank changes only
        (PATCH, "+++counter\n---counter\n", None),  # lines starting with +++ / --- are skipped, whatever they mean
        # identical patches
        (PATCH, PATCH, 1.0),
        ("+a\n-b\n", "+a\n-b\n", 1.0),
        # line breaks: \r\n and \n give the same lines
        (PATCH.replace("\n", "\r\n"), PATCH, 1.0),
        ("+a\u2028-b\x85+c", "+a\n-b\n+c\n", 1.0),
        # sign included, exact text
        ("-a\n", "+a\n", 0.0),
        ("+a \n", "+a\n", 0.0),
        ("+ a\n", "+a\n", 0.0),
        ("", "+a\n", 0.0),
        # duplicates as a multiset
        ("+a\n", "+a\n+a\n+a\n", 1 / 3),
        ("+a\n+a\n", "+a\n+a\n+a\n", 2 / 3),
        ("+a\n+a\n+a\n+a\n", "+a\n+a\n+a\n", 1.0),
        ("+a\n+a\n", "+a\n+b\n", 0.5),
        # headers of the rollout never match, "-- x" is a change line
        ("--- x\n", "-- x\n", 0.0),
        ("-- x\n", "-- x\n", 1.0),
        ("+@@ y\n", "+@@ y\n", 1.0),
    ],
)
def test_line_level_recall_hand_cases(rollout: str | None, target: str | None, recall: float | None) -> None:
    assert reference_recall(rollout, target) == recall
    assert line_level_recall(rollout, target) == recall


def test_line_level_recall_real_rows(sera_rows: list[dict]) -> None:
    expected = [1.0, 0.4074074074074074, 0.5]
    for row, recall in zip(sera_rows, expected, strict=True):
        assert reference_recall(row["rollout_patch"], row["target_patch"]) == recall
        assert line_level_recall(row["rollout_patch"], row["target_patch"]) == recall
    # the argument order matters: recall of the target's lines, not precision
    assert line_level_recall(sera_rows[1]["target_patch"], sera_rows[1]["rollout_patch"]) == reference_recall(sera_rows[1]["target_patch"], sera_rows[1]["rollout_patch"])
    assert line_level_recall(sera_rows[1]["target_patch"], sera_rows[1]["rollout_patch"]) != 0.4074074074074074

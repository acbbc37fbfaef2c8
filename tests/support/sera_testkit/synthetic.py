"""Deterministic generator of realistic SERA source rows (spec/sources.md layout).

Why: the published datasets are 211k rows of up to several hundred KB each, and the pipeline must also handle
shapes that the three real rows never show (sources.md, conversion.md). Tests and benchmarks need both without
downloading anything, and need the same bytes on every machine: every random choice comes from a
`random.Random` seeded with a string (string seeds hash with SHA-512, independent of PYTHONHASHSEED).

Rows copy the real shape: the SWE-agent history as a JSON string, `<think>...</think>\\n<commentary>`
assistant turns, one tool call per turn with index -1 and id `call_<24 hex>`, `OBSERVATION:\\n` prefixes,
the submit -> review -> clean-up -> submit ending, cache_control on the last two tool messages, and T2 target
patches that share some changed lines with the rollout patch.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

from sera_rectify.datasets import DATASET_NAMES
from sera_rectify.sources import COLUMNS as COLUMNS  # the published row layout every synthetic row follows

DATASETS = DATASET_NAMES
SIZES = ("sample", "realistic")

EMPTY_THOUGHT = "empty_thought"
MISSING_THOUGHT_KEY = "missing_thought_key"
CONTENT_AS_STRING = "content_as_string"
TRAILING_SUBMITS = "trailing_submits"
TEXT_ONLY_MID = "text_only_mid"
UNCLOSED_THINK = "unclosed_think"
REUSED_CALL_IDS = "reused_call_ids"
ODD_ARGUMENTS = "odd_arguments"
CRLF_OUTPUT = "crlf_output"
UNICODE = "unicode"
MALFORMED_TOOL_ARGUMENTS = "malformed_tool_arguments"
NOT_SUBMITTED = "not_submitted"
UNKNOWN_TOOL = "unknown_tool"
PARALLEL_TOOL_CALLS = "parallel_tool_calls"
NULL_METADATA = "null_metadata"
MESSAGES_NOT_JSON = "messages_not_json"

# What each special row shows; CASES keeps this order.
CASE_DESCRIPTIONS = {
    EMPTY_THOUGHT: "one assistant message has thought and content both empty but still a tool call",
    MISSING_THOUGHT_KEY: "assistant messages have no `thought` key; the reasoning is only in content",
    CONTENT_AS_STRING: "user and tool content are plain strings instead of lists of parts",
    TRAILING_SUBMITS: "three submits at the end, the last two duplicates, with a text-only message between them",
    TEXT_ONLY_MID: "a text-only assistant message (tool_calls null) in the middle, followed by more tool steps",
    UNCLOSED_THINK: "one thought opens <think> and never closes it",
    REUSED_CALL_IDS: "three consecutive tool calls share one id",
    ODD_ARGUMENTS: "a str_replace_editor view with a view_range list of ints; a bash call with int and bool arguments",
    CRLF_OUTPUT: "one tool output has \\r\\n line ends",
    UNICODE: "emoji, CJK and accented text in thoughts and tool outputs",
    MALFORMED_TOOL_ARGUMENTS: "one call's arguments are truncated JSON: '{\"command\": '",
    NOT_SUBMITTED: "no submit; ends with the text-only assistant message 'Exit due to cost limit'",
    UNKNOWN_TOOL: "a call to `find_file`, a tool SERA does not have",
    PARALLEL_TOOL_CALLS: "one assistant message with two tool calls",
    NULL_METADATA: "func_name, func_path and rollout_patch are null",
    MESSAGES_NOT_JSON: "the messages string is cut short, so it is not valid JSON",
}
CASES = tuple(CASE_DESCRIPTIONS)

SYSTEM_PROMPT = "You are a helpful assistant that can interact with a computer to solve tasks."
OBSERVATION = "OBSERVATION:\n"
EMPTY_OUTPUT = "Your last command ran successfully and did not produce any output."
COST_LIMIT_EXIT = "Exit due to cost limit"

_USER_HEAD = (
    "<uploaded_files>\n/testbed\n</uploaded_files>\nI've uploaded a python code repository in the directory "
    "/testbed. Consider the following PR description:\n\n<pr_description>\n\n"
)
_USER_TAIL = (
    "\n\n</pr_description>\n\nCan you help me implement the necessary changes to the repository so that the "
    "requirements specified in the <pr_description> are met?\nI've already taken care of all changes to any of "
    "the test files described in the <pr_description>. This means you DON'T have to modify the testing logic or "
    "any of the tests in any way!\nYour task is to make the minimal changes to non-tests files in the /testbed "
    "directory to ensure the <pr_description> is satisfied.\nFollow these steps to resolve the issue:\n1. As a "
    "first step, it might be a good idea to find and read code relevant to the <pr_description>\n2. Create a "
    "script to reproduce the error and execute it with `python <filename.py>` using the bash tool, to confirm "
    "the error\n3. Edit the sourcecode of the repo to resolve the issue\n4. Rerun your reproduce script and "
    "confirm that the error is fixed!\n5. Think about edgecases and make sure your fix handles them as well\n"
    "Your thinking should be thorough and so it's fine if it's very long."
)
_REVIEW_HEAD = (
    "Thank you for your work on this issue. Please carefully follow the steps below to help review your "
    "changes.\n\n1. If you made any changes to your code after running the reproduction script, please run the "
    "reproduction script again.\n  If the reproduction script is failing, please revisit your changes and make "
    "sure they are correct.\n  If you have already removed your reproduction script, please ignore this step.\n"
    "2. Remove your reproduction script (if you haven't done so already).\n3. If you have modified any TEST "
    "files, please revert them to the state they had before you started fixing the issue.\n  You can do this "
    "with `git checkout -- /path/to/test/file.py`. Use below <diff> to find the files you need to revert.\n"
    "4. Run the submit command again to confirm.\n\nHere is a list of all of your changes:\n\n<diff>\n"
)

# (owner, repo, source root) of SWE-smith style repositories.
_REPOS = (
    ("msiemens", "tinydb", "tinydb"),
    ("pexpect", "ptyprocess", "ptyprocess"),
    ("cantools", "cantools", "src/cantools"),
    ("pallets", "click", "src/click"),
    ("pallets", "jinja", "src/jinja2"),
    ("marshmallow-code", "marshmallow", "src/marshmallow"),
    ("python-jsonschema", "jsonschema", "jsonschema"),
    ("arrow-py", "arrow", "arrow"),
    ("mahmoud", "glom", "glom"),
    ("Suor", "funcy", "funcy"),
    ("seperman", "deepdiff", "deepdiff"),
    ("john-kurkowski", "tldextract", "tldextract"),
    ("python-hyper", "h11", "h11"),
    ("gweis", "isodate", "src/isodate"),
    ("cookiecutter", "cookiecutter", "cookiecutter"),
    ("gawel", "pyquery", "pyquery"),
    ("tkrajina", "gpxpy", "gpxpy"),
    ("pydicom", "pydicom", "src/pydicom"),
    ("sqlfluff", "sqlfluff", "src/sqlfluff"),
    ("agronholm", "typeguard", "src/typeguard"),
    ("lepture", "mistune", "src/mistune"),
    ("alecthomas", "voluptuous", "voluptuous"),
    ("pyparsing", "pyparsing", "pyparsing"),
    ("scanny", "python-pptx", "src/pptx"),
)
_NOUNS = (
    "storage", "handle", "cache", "buffer", "record", "table", "query", "token", "parser", "node", "schema",
    "field", "value", "config", "session", "request", "response", "stream", "frame", "signal", "message",
    "header", "payload", "index", "entry", "document", "path", "timeout", "encoder", "decoder", "registry",
    "plugin", "context", "result", "item", "batch", "chunk", "offset", "limit", "state", "event", "listener",
    "callback", "handler", "template", "pattern", "scope", "mapping", "sequence", "column", "row", "key", "lock",
    "worker", "queue", "job", "client", "socket", "channel", "loader", "reader", "writer", "counter", "metric",
    "rule", "option", "flag", "argument", "version", "timestamp", "locale", "unit", "width", "style", "span",
    "line", "char", "digest", "prefix", "suffix", "separator", "attribute", "element", "segment", "fixture",
)
_VERBS = (
    "load", "dump", "read", "write", "parse", "render", "encode", "decode", "validate", "normalize", "resolve",
    "build", "apply", "merge", "split", "flush", "close", "open", "reset", "update", "insert", "remove", "fetch",
    "store", "format", "convert", "compare", "compute", "collect", "register", "dispatch", "emit", "handle",
    "wrap", "check", "ensure", "match", "scan", "serialize", "truncate", "expand", "strip", "join", "lookup",
)
_IRREGULAR_PAST = {"read": "read", "write": "written", "build": "built", "split": "split", "emit": "emitted",
                   "scan": "scanned", "strip": "stripped", "wrap": "wrapped"}
_ADJS = (
    "raw", "default", "cached", "current", "pending", "stale", "empty", "nested", "optional", "strict", "lazy",
    "local", "global", "invalid", "unknown", "final", "partial", "max", "min", "next", "base", "custom",
    "internal", "shared", "temp", "new", "old", "inner", "outer", "trailing", "leading", "encoded", "unicode",
)
_CLASS_SUFFIXES = ("Manager", "Storage", "Parser", "Handler", "Reader", "Writer", "Builder", "Config", "Table")
_MODULE_STEMS = (
    "core", "utils", "storages", "parser", "decoder", "encoder", "fields", "schema", "types", "helpers", "base",
    "exceptions", "compat", "formatting", "loader", "validators", "tokens", "nodes", "middleware", "queries",
)
_IMPORTS = (
    "import os", "import re", "import io", "import sys", "import json", "import time", "import errno",
    "import codecs", "import logging", "import warnings", "import functools", "import itertools",
    "from abc import ABC, abstractmethod", "from collections import OrderedDict, defaultdict",
    "from typing import Any, Dict, List, Optional, Tuple", "from typing import Iterable, Iterator, Mapping",
)
_SENTENCES = (
    "The {noun} is {verbed} before the {adj} {noun2} is checked, so `{ident}()` can see a {adj2} value.",
    "When `{ident}()` receives an {adj} {noun}, it returns early and the {noun2} is never updated.",
    "This means callers that rely on `{cls}.{ident}` get a {adj} {noun} instead of the expected {noun2}.",
    "I should make sure the {noun} still works when the {noun2} is None or empty.",
    "The existing tests cover the {adj} {noun} path, but nothing exercises the {adj2} {noun2} case.",
    "Looking at line {num}, the {noun} is read from `self._{noun2}` without any validation.",
    "If I change how the {noun} is {verbed}, the {noun2} handling in `{ident}()` must stay compatible.",
    "The simplest fix is to {verb} the {noun} first and only then {verb2} the {noun2}.",
    "Other modules call `{ident}()` with a {adj} {noun}, so the change has to be backwards compatible.",
    "A {adj} {noun} of {num} items should not change the {noun2} at all.",
    "There is also a subtle issue: the {noun2} is {verbed} twice when the {noun} is {adj}.",
    "I want to keep the change minimal and avoid touching the public API of `{cls}`.",
    "The error comes from `{ident}()`, which assumes the {noun} always has a {noun2}.",
    "Edge cases to consider: an empty {noun}, a {adj} {noun2}, and a {noun} with {num} entries.",
    "It seems the {noun} was refactored at some point and `{ident}()` was not updated to match.",
    "Let me double-check that the {adj} {noun} is restored after the {noun2} is {verbed}.",
    "Since `{cls}` is used by the {noun2} layer, a regression here would be hard to notice.",
    "The PR description says the {noun} should be {verbed} lazily, which matches what I see in the code.",
)
_UNICODE_SENTENCES = (
    "Résumé of the {noun}: the café test passes ✓ but the naïve {noun2} check fails ✗ → needs a fix 🐛.",
    "The {noun} label is 日本語のテキスト and the {noun2} holds 中文字符, so encoding must stay UTF-8 🚀.",
    "Zürich, São Paulo and Kraków appear in the {noun} fixtures; 한국어 text goes through `{ident}()` too ✅.",
    "The façade returns “{adj}” quotes and an em dash — plus Ω, π≈3.14 and ½ in the {noun2} ❌.",
)
_COMMENTARY = (
    "Let me look at the {noun} handling in more detail:",
    "Now let's examine the file where the issue is located:",
    "Let me check how `{ident}` is used elsewhere:",
    "Now let's run the script to confirm the issue:",
    "Let me verify the fix works:",
    "Good! Now let's run the existing tests to make sure nothing is broken:",
    "I'll update the {noun} handling so it covers the {adj} case as well:",
    "Perfect! Let me also test a few edge cases:",
    "Let me search for related code:",
    "Great, the change looks correct. Let me run the tests again:",
)
_LEADS = {
    "view_dir": "Let me start by exploring the repository structure to understand how {pkg} is organised.",
    "view_file": "Now let's look at {path}, since `{func}` is defined there according to the PR description.",
    "view_range": "Let me look more closely at lines {a}-{b} of {path}.",
    "grep": "Let me search for other places that use `{word}` so I don't miss a caller.",
    "create_script": "Let me create a script that exercises `{func}` and shows the problem from the PR.",
    "run_script": "Now let's run {script} to see what happens.",
    "edit_fix": "I can see the problem now. The fix belongs in {path}; let me change the {noun} handling.",
    "edit_script": "The script needs one more check for the {adj} {noun} case. Let me update it.",
    "run_tests": "Let me run the existing tests to make sure nothing else is broken.",
    "shell": "Let me check the state of the working tree.",
    "quiet": "Let me quickly make sure the package still imports cleanly.",
    "find_file": "Let me find where {name} lives in the repository.",
    "submit": "The fix is complete and verified. Let me summarise what I changed and submit.",
    "cleanup": "I need to clean up the test files I created and submit again. Let me remove them.",
    "resubmit": "Now let me submit again.",
    "text_only": "I have looked at `{func}` in detail; before editing anything else I want to plan the remaining work.",
    "after_submit": "The changes have been submitted. The fix to `{func}` is in place.",
}
_LOG_TEMPLATES = (
    "Testing {ident}() with {adj} {noun}...",
    "{noun} before: {value}",
    "{noun} after: {value}",
    "Result: {value}",
    "Expected: {value}",
    "Calling {cls}.{ident} with {num} items",
    "✓ SUCCESS: {adj} {noun} handled correctly",
    "✗ FAILURE: {noun} was not {verbed} ({adj} {noun2})",
    "{cls}Error: {adj} {noun} cannot be {verbed}",
    "Elapsed: {num}.{num2}ms for {num2} iterations",
    "--- Test {num2}: {adj} {noun} ---",
    "=" * 60,
)
_UNICODE_LOGS = (
    "✅ {noun}: 日本語 OK, café OK, naïve OK",
    "❌ {noun2} mismatch: expected “{adj}” got «{adj2}» 🐛",
    "→ 中文字符 {noun} {num} Zürich ✓",
)


@dataclass(frozen=True)
class _Scale:
    """How big a row's parts are: 'sample' keeps rows small, 'realistic' follows the published rows."""

    calls: Callable[[random.Random], int]
    module_lines: tuple[int, int]
    function_body: tuple[int, int]
    view_lines: tuple[int, int]
    script_lines: tuple[int, int]
    log_lines: tuple[int, int]
    tests: tuple[int, int]
    grep_lines: tuple[int, int]
    sentences: tuple[int, int]
    list_items: tuple[int, int]
    quote_chance: float
    max_files: int


_SCALES = {
    "sample": _Scale(
        calls=lambda rng: 8 + round(12 * rng.betavariate(1.1, 3.2)),
        module_lines=(15, 30),
        function_body=(2, 4),
        view_lines=(6, 14),
        script_lines=(6, 14),
        log_lines=(2, 6),
        tests=(3, 8),
        grep_lines=(2, 5),
        sentences=(0, 1),
        list_items=(1, 2),
        quote_chance=0.05,
        max_files=1,
    ),
    # 13 + 99 * Beta(1.3, 3.14): 13..112 tool calls, mean ~42 (the published card's figures).
    "realistic": _Scale(
        calls=lambda rng: 13 + round(99 * rng.betavariate(1.3, 3.14)),
        module_lines=(100, 420),
        function_body=(3, 10),
        view_lines=(20, 70),
        script_lines=(30, 110),
        log_lines=(8, 45),
        tests=(8, 90),
        grep_lines=(4, 25),
        sentences=(1, 8),
        list_items=(3, 6),
        quote_chance=0.25,
        max_files=2,
    ),
}


def _past(verb: str) -> str:
    """Past participle, so the filled sentences read as English."""
    return _IRREGULAR_PAST.get(verb) or verb + ("d" if verb.endswith("e") else "ed")


class _Text:
    """Varied pseudo-English and pseudo-Python from word lists, so compression ratios look like real text."""

    def __init__(self, rng: random.Random, body: tuple[int, int], unicode: bool = False) -> None:
        self.rng = rng
        self.body = body  # statements per generated function
        self.unicode = unicode

    def ident(self) -> str:
        return f"{self.rng.choice(_VERBS)}_{self.rng.choice(_NOUNS)}"

    def class_name(self) -> str:
        adj, noun = self.rng.choice(_ADJS), self.rng.choice(_NOUNS)
        return f"{adj.title()}{noun.title()}{self.rng.choice(_CLASS_SUFFIXES)}"

    def fill(self, template: str, **extra: object) -> str:
        """Fill a template's word slots (plus `extra` named slots); unused slots are ignored."""
        r = self.rng
        words = {
            "noun": r.choice(_NOUNS), "noun2": r.choice(_NOUNS), "verb": r.choice(_VERBS),
            "verb2": r.choice(_VERBS), "verbed": _past(r.choice(_VERBS)), "adj": r.choice(_ADJS),
            "adj2": r.choice(_ADJS), "ident": self.ident(),
            "cls": self.class_name(), "num": r.randint(2, 999), "num2": r.randint(1, 99), "value": self.value(),
        }
        return template.format(**words, **extra)

    def sentence(self) -> str:
        pool = _UNICODE_SENTENCES if self.unicode and self.rng.random() < 0.4 else _SENTENCES
        return self.fill(self.rng.choice(pool))

    def paragraph(self, n: int) -> str:
        return " ".join(self.sentence() for _ in range(n))

    def value(self) -> str:
        r = self.rng
        kind = r.randrange(4)
        if kind == 0:
            return "{" + ", ".join(f"'{r.choice(_NOUNS)}': {r.randint(0, 500)}" for _ in range(r.randint(1, 3))) + "}"
        if kind == 1:
            return f"'{r.choice(_ADJS)}_{r.choice(_NOUNS)}'"
        if kind == 2:
            return str([r.randint(0, 99) for _ in range(r.randint(1, 4))])
        return r.choice(("None", "True", "False", str(r.randint(0, 10_000))))

    def expr(self) -> str:
        r = self.rng
        return r.choice((
            f"self._{r.choice(_NOUNS)}",
            f"{self.ident()}({r.choice(_NOUNS)})",
            f"self.{self.ident()}({r.choice(_NOUNS)}, {r.choice(_NOUNS)}={r.choice(('None', 'True', '0'))})",
            f"{r.choice(_NOUNS)}.get('{r.choice(_NOUNS)}', {r.choice(('None', '0', '[]'))})",
            f"len({r.choice(_NOUNS)}) - {r.randint(1, 9)}",
            f"{r.choice(_NOUNS)}[{r.randint(0, 4)}:]",
            self.value(),
        ))

    def simple(self, indent: int) -> str:
        r, pad = self.rng, " " * indent
        return pad + r.choice((
            f"{r.choice(_NOUNS)} = {self.expr()}",
            f"self._{r.choice(_NOUNS)} = {self.expr()}",
            f"{self.ident()}({r.choice(_NOUNS)})",
            f"# {self.sentence()[:70]}",
            f"{r.choice(_NOUNS)}.{r.choice(_VERBS)}({self.expr()})",
            f"logger.debug('{r.choice(_VERBS)} %s', {r.choice(_NOUNS)})",
        ))

    def statement(self, indent: int) -> list[str]:
        """One simple statement, or a compound one with a short nested body."""
        r, pad = self.rng, " " * indent
        kind = r.randrange(6)
        if kind == 0:
            head = f"if {r.choice(_NOUNS)} is {r.choice(('None', 'not None'))}:"
        elif kind == 1:
            head = f"for {r.choice(_NOUNS)} in {self.expr()}:"
        elif kind == 2:
            body = [self.simple(indent + 4) for _ in range(r.randint(1, 2))]
            return [pad + "try:", *body, pad + f"except {self.class_name()}Error:", pad + "    raise"]
        else:
            return [self.simple(indent)]
        return [pad + head] + [self.simple(indent + 4) for _ in range(r.randint(1, 3))]

    def function(self, name: str, indent: int, method: bool) -> tuple[list[str], int]:
        """A def with docstring and body; returns its lines and the index of the first body statement."""
        r, pad = self.rng, " " * indent
        params = ["self"] if method else []
        params += [r.choice(_NOUNS) for _ in range(r.randint(0, 2))]
        lines = [f"{pad}def {name}({', '.join(params)}):", f'{pad}    """{self.sentence()}']
        lines += [f"{pad}    {self.sentence()}" for _ in range(r.randint(0, 2))]
        lines.append(f'{pad}    """')
        body_start = len(lines)
        for _ in range(r.randint(*self.body)):
            lines += self.statement(indent + 4)
        lines += [f"{pad}    return {self.expr()}", ""]
        return lines, body_start

    def module(self, n_lines: int, target: str) -> tuple[list[str], int, int]:
        """A pseudo-Python module of about n_lines lines holding `target` (a function or Class.method).

        Returns the lines and the [start, end) line indexes of the target's body, where the fix goes.
        """
        lines = [f'"""{self.sentence()}"""', ""]
        lines += sorted(self.rng.sample(_IMPORTS, 5)) + ["", "logger = logging.getLogger(__name__)", "", ""]
        target_block = self.rng.randint(0, 3)
        body = (-1, -1)
        block = 0
        while len(lines) < n_lines or body[0] < 0:
            if block == target_block or len(lines) >= n_lines:
                body = self._target_block(lines, target)
            else:
                self._other_block(lines)
            block += 1
        return lines, body[0], body[1]

    def _target_block(self, lines: list[str], target: str) -> tuple[int, int]:
        cls, _, meth = target.rpartition(".")
        if cls:
            lines += [f"class {cls}({self.class_name()}):", f'    """{self.sentence()}"""', ""]
            self._methods(lines, self.rng.randint(0, 2))
        func, body_at = self.function(meth, 4 if cls else 0, bool(cls))
        start = len(lines) + body_at
        lines += func
        end = len(lines) - 2
        if cls:
            self._methods(lines, self.rng.randint(0, 2))
        lines.append("")
        return start, end

    def _other_block(self, lines: list[str]) -> None:
        if self.rng.random() < 0.5:
            lines += [f"class {self.class_name()}:", f'    """{self.sentence()}"""', ""]
            self._methods(lines, self.rng.randint(1, 3))
        else:
            lines += self.function(self.ident(), 0, False)[0]
        lines.append("")

    def _methods(self, lines: list[str], n: int) -> None:
        for _ in range(n):
            lines += self.function(self.ident(), 4, True)[0]

    def log_lines(self, n: int) -> list[str]:
        """Lines a script prints; in unicode mode the first one is always non-ASCII."""
        pool = _LOG_TEMPLATES + (_UNICODE_LOGS if self.unicode else ())
        lines = [self.fill(self.rng.choice(pool)) for _ in range(n)]
        if self.unicode:
            lines[0] = self.fill(self.rng.choice(_UNICODE_LOGS))
        return lines

    def script(self, n_lines: int, pkg: str, target: str) -> str:
        """A reproduction / edge-case script as an agent writes it."""
        r = self.rng
        cls, _, name = target.rpartition(".")
        lines = ["#!/usr/bin/env python3", '"""', self.sentence(), '"""', "", f"import {pkg.replace('-', '_')}"]
        lines += [f"from {pkg.replace('-', '_')}.{r.choice(_MODULE_STEMS)} import {cls or name}", "", ""]
        while len(lines) < n_lines:
            test = f"test_{self.ident()}"
            lines += [f"def {test}():", f'    """{self.sentence()}"""']
            lines += [self.simple(4) for _ in range(r.randint(2, 6))]
            lines += [f'    print(f"{self.fill(r.choice(_LOG_TEMPLATES[:6]))}")', "", ""]
        lines += ['if __name__ == "__main__":', f"    {self.ident()}()"]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Hunk:
    """One changed region of one file; the unit both patches and edits are made of."""

    path: str
    start: int
    header: str
    before: tuple[str, ...]
    removed: tuple[str, ...]
    added: tuple[str, ...]
    after: tuple[str, ...]
    old_hash: str
    new_hash: str


@dataclass(frozen=True)
class _Task:
    """What a rollout works on: shared by datasets at the same index, like T1/T2 rows of one instance."""

    owner: str
    repo: str
    src: str
    instance_id: str
    func_name: str
    func_path: str
    docker_image: str
    problem_statement: str
    modules: dict[str, list[str]]
    fix: tuple[_Hunk, ...]  # the T1 rollout's fix: T1 submits it, T2 gets it as target_patch
    tree: tuple[str, ...]
    tests: tuple[str, ...]


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(4 * n):0{n}x}"


def _rng(*parts: object) -> random.Random:
    return random.Random("|".join(str(p) for p in parts))


def _make_task(seed: int, size: str, dataset: str, index: int) -> _Task:
    """Same (seed, size, index) and teacher family give the same task; every third index is shared by all four
    datasets, so instance_ids repeat across datasets as they do in the published sets."""
    family = "all" if index % 3 == 0 else dataset.split("-")[1]
    rng = _rng("task", seed, size, family, index)
    scale = _SCALES[size]
    text = _Text(rng, scale.function_body)
    owner, repo, src = rng.choice(_REPOS)
    stems = rng.sample(_MODULE_STEMS, 6)
    cls = text.class_name() if rng.random() < 0.6 else ""
    func_name = f"{cls}.{text.ident()}" if cls else text.ident()
    paths = [f"{src}/{stem}.py" for stem in stems]
    n_files = rng.randint(1, scale.max_files)
    modules, hunks = {}, []
    for i, path in enumerate(paths[:n_files]):
        target = func_name if i == 0 else text.ident()
        lines, body_start, body_end = text.module(rng.randint(*scale.module_lines), target)
        modules[path] = lines
        hunks.append(_fix_hunk(text, path, lines, body_start, body_end, target))
    tests = tuple(f"tests/test_{stem}.py" for stem in stems[: rng.randint(2, 5)])
    return _Task(
        owner=owner,
        repo=repo,
        src=src,
        instance_id=f"{repo}_{10000 + rng.randrange(1000)}",
        func_name=func_name,
        func_path=paths[0],
        docker_image=f"jyangballin/swesmith.x86_64.{owner.lower()}_1776_{repo}.{_hex(_rng(repo), 8)}",
        problem_statement=_problem_statement(text, owner, repo, paths[0], func_name, scale),
        modules=modules,
        fix=tuple(hunks),
        tree=tuple(["README.rst", "pyproject.toml", "setup.cfg", "LICENSE", "tox.ini"] + paths + list(tests)),
        tests=tests,
    )


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _fix_hunk(text: _Text, path: str, lines: list[str], body_start: int, body_end: int, target: str) -> _Hunk:
    """Replace one whole top-level statement of the target's body with 1-4 new ones, 3 context lines around."""
    rng = text.rng
    starts = [i for i in range(body_start, body_end) if _indent(lines[i]) == _indent(lines[body_start])]
    at = rng.randrange(len(starts))
    first, last = starts[at], (starts + [body_end])[at + 1]
    indent = _indent(lines[first])
    added = tuple(text.simple(indent) for _ in range(rng.randint(1, 4)))
    ctx = max(0, first - 3)
    return _Hunk(
        path=path,
        start=ctx + 1,
        header=f"def {target.rpartition('.')[2]}(",
        before=tuple(lines[ctx:first]),
        removed=tuple(lines[first:last]),
        added=added,
        after=tuple(lines[last : last + 3]),
        old_hash=_hex(rng, 7),
        new_hash=_hex(rng, 7),
    )


def _vary(text: _Text, hunks: tuple[_Hunk, ...]) -> tuple[_Hunk, ...]:
    """A different fix for the same places (a T2 rollout): it removes the same lines and keeps some added ones,
    but rewrites at least one, so its line-level recall against the original is strictly between 0 and 1."""
    rng, out = text.rng, []
    for h in hunks:
        indent = _indent(h.added[0])
        rewrite = rng.randrange(len(h.added))
        added = [line if i != rewrite and rng.random() < 0.5 else text.simple(indent) for i, line in enumerate(h.added)]
        added += [text.simple(indent) for _ in range(rng.randint(0, 2))]
        out.append(replace(h, added=tuple(added), new_hash=_hex(rng, 7)))
    return tuple(out)


def _render_patch(hunks: tuple[_Hunk, ...]) -> str:
    """A git unified diff of the hunks, one file per hunk, in path order as git prints it."""
    parts = []
    for h in sorted(hunks, key=lambda h: h.path):
        old_len = len(h.before) + len(h.removed) + len(h.after)
        new_len = len(h.before) + len(h.added) + len(h.after)
        parts += [
            f"diff --git a/{h.path} b/{h.path}",
            f"index {h.old_hash}..{h.new_hash} 100644",
            f"--- a/{h.path}",
            f"+++ b/{h.path}",
            f"@@ -{h.start},{old_len} +{h.start},{new_len} @@ {h.header}",
        ]
        parts += [f" {line}" for line in h.before]
        parts += [f"-{line}" for line in h.removed]
        parts += [f"+{line}" for line in h.added]
        parts += [f" {line}" for line in h.after]
    return "\n".join(parts) + "\n"


def _new_file_diff(rng: random.Random, path: str, body: str) -> str:
    lines = body.split("\n")
    head = [
        f"diff --git a/{path} b/{path}",
        "new file mode 100644",
        f"index 0000000..{_hex(rng, 7)}",
        "--- /dev/null",
        f"+++ b/{path}",
        f"@@ -0,0 +1,{len(lines)} @@",
    ]
    return "\n".join(head + [f"+{line}" for line in lines] + ["\\ No newline at end of file"]) + "\n"


def _problem_statement(text: _Text, owner: str, repo: str, path: str, func: str, scale: _Scale) -> str:
    """A synthetic YAML-like PR text, the shape SERA's T2 problem statements have."""
    rng = text.rng

    def para(indent: int = 4) -> str:
        return " " * indent + text.paragraph(max(1, rng.randint(*scale.sentences)))

    slug = func.lower().replace(".", "-").replace("_", "-")
    return "\n".join([
        "metadata:",
        f"  id: {repo}-{slug}-issue",
        f"  type: {rng.choice(('bug', 'performance', 'enhancement'))}",
        "  status: open",
        f"  priority: {rng.choice(('low', 'medium', 'high'))}",
        "  created: 2024-01-15T10:30:00.000",
        "  updated: ",
        "",
        "project:",
        f"  repository: https://github.com/{owner}/{repo}",
        f"  component: {path.rsplit('/', 1)[1][:-3]}",
        "  version: ",
        "",
        f"title: {func}() {text.fill('does not {verb} the {adj} {noun} correctly')}",
        "",
        "description:",
        "  summary: |",
        para(),
        "  ",
        "  detailed: |",
        para(),
        "",
        "reproduction:",
        "  steps: |",
        *[f"    {i}. {text.sentence()}" for i in range(1, 1 + rng.randint(*scale.list_items))],
        "  ",
        "  code_sample: |",
        *[f"    {line.strip()}" for line in text.log_lines(rng.randint(*scale.list_items))],
        "",
        "behavior:",
        "  actual: |",
        para(),
        "  ",
        "  expected: |",
        para(),
        "",
        "analysis:",
        "  root_cause: |",
        para(),
        "  ",
        "  affected_code: |",
        f"    {path}, in the {func.rpartition('.')[2]}() method",
        "",
        "testing:",
        "  test_cases: |",
        *[f"    - {text.sentence()}" for _ in range(rng.randint(*scale.list_items))],
        "  ",
        "  regression_risk: Low - the change is local to one function",
    ])


def _numbered(lines: list[str], first: int) -> str:
    """`cat -n` rendering as str_replace_editor shows it (first is 1-based)."""
    return "\n".join(f"{first + i:6d}\t{line}" for i, line in enumerate(lines))


def _shell_quote(value: str) -> str:
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _action(name: str, args: dict) -> str:
    """SWE-agent's command-line rendering of a call (the `action` field)."""
    if name == "bash":
        return str(args.get("command", ""))
    if name != "str_replace_editor":
        return " ".join([name, *(str(v) for v in args.values())]).strip()
    text = f"str_replace_editor {args['command']} {args['path']}"
    if "view_range" in args:
        text += "  --view_range " + " ".join(str(v) for v in args["view_range"])
    if "file_text" in args:
        text += " --file_text " + _shell_quote(args["file_text"])
    if "old_str" in args:
        text += "   --old_str " + _shell_quote(args["old_str"]) + " --new_str " + _shell_quote(args["new_str"])
    return text


class _Rollout:
    """Builds one trajectory's message list step by step, keeping files and patches consistent."""

    def __init__(self, rng: random.Random, task: _Task, scale: _Scale, rollout: tuple[_Hunk, ...], case: str | None):
        self.rng, self.task, self.scale = rng, task, scale
        self.text = _Text(rng, scale.function_body, unicode=case == UNICODE)
        self.rollout = rollout
        self.pending = list(rollout)
        # Scripts in /tmp stay out of the diff, so the agent submits without a clean-up step.
        self.scratch_dir = "/tmp" if case == TRAILING_SUBMITS or rng.random() < 0.3 else "/testbed"
        self.scripts: dict[str, str] = {}
        self.messages: list[dict] = [
            {"role": "system", "content": SYSTEM_PROMPT, "agent": "main", "message_type": "system_prompt"},
            _text_message("user", _USER_HEAD + task.problem_statement + _USER_TAIL, "observation"),
        ]

    # -- message helpers -------------------------------------------------------------------------------------

    def call_id(self) -> str:
        return "call_" + _hex(self.rng, 24)

    def thought(self, lead: str, **slots: str) -> str:
        """`<think>reasoning</think>` plus, most of the time, a newline and a short visible reply."""
        r = self.rng
        reasoning = [self.text.fill(lead, **slots)]
        reasoning += [self.text.sentence() for _ in range(r.randint(*self.scale.sentences))]
        if self.text.unicode:
            reasoning.append(self.text.fill(r.choice(_UNICODE_SENTENCES)))
        if r.random() < self.scale.quote_chance:
            quoted = r.choice(list(self.task.modules.values()))
            at = r.randrange(len(quoted))
            reasoning.append("```python\n" + "\n".join(quoted[at : at + r.randint(2, 8)]) + "\n```")
        body = "<think>" + "\n\n".join(reasoning) + "</think>"
        return body if r.random() < 0.1 else body + "\n" + self.text.fill(r.choice(_COMMENTARY))

    def step(self, name: str, args: dict, output: str, thought: str, raw_args: str | None = None) -> None:
        """Append one assistant tool call and the tool message answering it."""
        cid = self.call_id()
        arguments = json.dumps(args, ensure_ascii=False) if raw_args is None else raw_args
        action = _action(name, args) if raw_args is None else ""
        self.messages.append(_assistant(thought, action, [_call(name, arguments, cid)]))
        self.messages.append(_tool(output, cid))

    def text_only(self, text: str) -> None:
        self.messages.append(_assistant(text, "", None))

    # -- ordinary steps ---------------------------------------------------------------------------------------

    def view_dir(self) -> None:
        listing = "\n".join(["/testbed"] + [f"/testbed/{p}" for p in self.task.tree])
        head = "Here's the files and directories up to 2 levels deep in /testbed, excluding hidden items:\n"
        out = f"{head}{listing}\n\n\n"
        self.step("str_replace_editor", {"command": "view", "path": "/testbed"}, OBSERVATION + out,
                  self.thought(_LEADS["view_dir"], pkg=self.task.repo))

    def view_file(self) -> None:
        path = self.rng.choice(list(self.task.modules))
        body = _numbered(self.task.modules[path], 1)
        out = f"Here's the result of running `cat -n` on /testbed/{path}:\n{body}\n"
        self.step("str_replace_editor", {"command": "view", "path": f"/testbed/{path}"}, OBSERVATION + out,
                  self.thought(_LEADS["view_file"], path=path, func=self.task.func_name))

    def view_range(self) -> None:
        path = self.rng.choice(list(self.task.modules))
        lines = self.task.modules[path]
        a = self.rng.randint(1, max(1, len(lines) - 10))
        b = min(len(lines), a + self.rng.randint(*self.scale.view_lines))
        out = f"Here's the result of running `cat -n` on /testbed/{path}:\n{_numbered(lines[a - 1 : b], a)}\n"
        args = {"command": "view", "path": f"/testbed/{path}", "view_range": [a, b]}
        self.step("str_replace_editor", args, OBSERVATION + out,
                  self.thought(_LEADS["view_range"], a=str(a), b=str(b), path=path))

    def grep(self) -> None:
        """grep for the function: its definition, then call sites in the tests."""
        word = self.task.func_name.rpartition(".")[2]
        hits = [f"{path}:{n}:{line}" for path, lines in self.task.modules.items()
                for n, line in enumerate(lines, 1) if word in line]
        for _ in range(self.rng.randint(*self.scale.grep_lines)):
            call = f"    {self.rng.choice(_NOUNS)} = {self.rng.choice(_NOUNS)}.{word}({self.text.expr()})"
            hits.append(f"{self.rng.choice(self.task.tests)}:{self.rng.randint(5, 400)}:{call}")
        cmd = f'cd /testbed && grep -rn "{word}" {self.task.src}/ tests/'
        self.step("bash", {"command": cmd}, OBSERVATION + "\n".join(hits) + "\n",
                  self.thought(_LEADS["grep"], word=word))

    def create_script(self) -> None:
        name = self.rng.choice(("reproduce_issue", "test_edge_cases", "test_fix", "debug_" + self.text.ident()))
        path = f"{self.scratch_dir}/{name}.py"
        if path in self.scripts:
            path = f"{self.scratch_dir}/{name}_{len(self.scripts)}.py"
        body = self.text.script(self.rng.randint(*self.scale.script_lines), self.task.repo, self.task.func_name)
        self.scripts[path] = body
        self.step("str_replace_editor", {"command": "create", "path": path, "file_text": body},
                  OBSERVATION + f"File created successfully at: {path}\n",
                  self.thought(_LEADS["create_script"], func=self.task.func_name))

    def run_script(self) -> None:
        if not self.scripts:
            self.create_script()
            return
        path = self.rng.choice(list(self.scripts))
        runnable = path.removeprefix("/testbed/")
        out = "\n".join(self.text.log_lines(self.rng.randint(*self.scale.log_lines))) + "\n"
        self.step("bash", {"command": f"cd /testbed && python {runnable}"}, OBSERVATION + out,
                  self.thought(_LEADS["run_script"], script=path))

    def edit_fix(self) -> None:
        if not self.pending:
            self.edit_script()
            return
        h = self.pending.pop(0)
        old = "\n".join(h.before[-1:] + h.removed + h.after[:1]).lstrip()
        new = "\n".join(h.before[-1:] + h.added + h.after[:1]).lstrip()
        snippet = _numbered(list(h.before + h.added + h.after), h.start)
        path = f"/testbed/{h.path}"
        self.step("str_replace_editor", {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
                  OBSERVATION + _edited(path, snippet), self.thought(_LEADS["edit_fix"], path=h.path))

    def edit_script(self) -> None:
        if not self.scripts:
            self.create_script()
            return
        path = self.rng.choice(list(self.scripts))
        lines = self.scripts[path].split("\n")
        at = self.rng.randrange(len(lines))
        new_line = self.text.simple(_indent(lines[at]))
        old = lines[at]
        lines[at] = new_line
        self.scripts[path] = "\n".join(lines)
        snippet = _numbered(lines[max(0, at - 4) : at + 5], max(0, at - 4) + 1)
        self.step("str_replace_editor", {"command": "str_replace", "path": path, "old_str": old, "new_str": new_line},
                  OBSERVATION + _edited(path, snippet), self.thought(_LEADS["edit_script"]))

    def run_tests(self) -> None:
        test_file = self.rng.choice(self.task.tests)
        names = [f"{test_file}::test_{self.text.ident()}" for _ in range(self.rng.randint(*self.scale.tests))]
        out = _pytest_output(names, self.rng)
        self.step("bash", {"command": f"cd /testbed && python -m pytest {test_file} -v"}, OBSERVATION + out,
                  self.thought(_LEADS["run_tests"]))

    def shell(self) -> None:
        if self.rng.random() < 0.5:
            cmd, out = "cd /testbed && git diff", _render_patch(tuple(h for h in self.rollout if h not in self.pending))
        else:
            paths = [f"./{p}" for p in self.task.tree if p.endswith(".py")]
            cmd, out = 'cd /testbed && find . -name "*.py" | head -20', "\n".join(paths[:20]) + "\n"
        self.step("bash", {"command": cmd}, OBSERVATION + out if out.strip() else EMPTY_OUTPUT,
                  self.thought(_LEADS["shell"]))

    def quiet(self) -> None:
        module = self.task.src.rpartition("/")[2]
        self.step("bash", {"command": f'cd /testbed && python -c "import {module}"'}, EMPTY_OUTPUT,
                  self.thought(_LEADS["quiet"]))

    # -- special steps (cases) --------------------------------------------------------------------------------

    def crlf(self) -> None:
        """A data file written on Windows: its lines end in \\r\\n, which must survive verbatim."""
        path = f"tests/fixtures/{self.text.ident()}.txt"
        out = "\r\n".join(self.text.log_lines(self.rng.randint(*self.scale.log_lines))) + "\r\n"
        self.step("bash", {"command": f"cd /testbed && cat {path}"}, OBSERVATION + out,
                  self.thought(_LEADS["shell"]))

    def reflect(self) -> None:
        """A text-only turn (tool_calls null) in the middle of the trajectory."""
        self.text_only(self.thought(_LEADS["text_only"], func=self.task.func_name))

    def find_file(self) -> None:
        name = self.task.func_path.rpartition("/")[2]
        out = f'Found 1 matches for "{name}" in /testbed:\n/testbed/{self.task.func_path}\n'
        self.step("find_file", {"file_name": name, "dir": "/testbed"}, OBSERVATION + out,
                  self.thought(_LEADS["find_file"], name=name))

    def malformed(self) -> None:
        out = "Your action could not be parsed properly: Expecting value: line 1 column 13 (char 12).\n"
        self.step("bash", {}, OBSERVATION + out, self.thought(_LEADS["run_tests"]), raw_args='{"command": ')

    def parallel(self) -> None:
        ids = [self.call_id(), self.call_id()]
        test_file = self.rng.choice(self.task.tests)
        calls = [
            _call("bash", json.dumps({"command": "cd /testbed && git status --short"}), ids[0]),
            _call("bash", json.dumps({"command": f"cd /testbed && wc -l {test_file}"}), ids[1]),
        ]
        thought = self.thought(_LEADS["shell"])
        self.messages.append(_assistant(thought, "cd /testbed && git status --short", calls))
        self.messages.append(_tool(OBSERVATION + f" M {self.task.func_path}\n", ids[0]))
        self.messages.append(_tool(OBSERVATION + f"{self.rng.randint(40, 900)} {test_file}\n", ids[1]))

    def odd_arguments(self) -> None:
        self.view_range()
        cmd = f"cd /testbed && python -m pytest {self.task.tests[0]} -q -x"
        out = _pytest_output([f"{self.task.tests[0]}::test_{self.text.ident()}"], self.rng)
        self.step("bash", {"command": cmd, "timeout": 120, "is_input": False}, OBSERVATION + out,
                  self.thought(_LEADS["run_tests"]))

    # -- the ending -------------------------------------------------------------------------------------------

    def submit(self, output: str, lead: str) -> None:
        thought = self.thought(_LEADS[lead], func=self.task.func_name)
        self.step("submit", {}, OBSERVATION + output, thought)

    def review_text(self) -> str:
        """The first submit's answer: the review request with every change, scripts included, in path order."""
        diffs = [(p.removeprefix("/testbed/"), body) for p, body in self.scripts.items() if p.startswith("/testbed/")]
        parts = [(path, _new_file_diff(self.rng, path, body)) for path, body in diffs]
        parts += [(h.path, _render_patch((h,))) for h in self.rollout]
        return _REVIEW_HEAD + "".join(diff for _, diff in sorted(parts)) + "\n</diff>\n\n"

    def cleanup(self) -> None:
        names = [p.rpartition("/")[2] for p in self.scripts if p.startswith("/testbed/")]
        self.step("bash", {"command": "cd /testbed && rm -f " + " ".join(names)}, EMPTY_OUTPUT,
                  self.thought(_LEADS["cleanup"]))
        self.scripts = {p: b for p, b in self.scripts.items() if not p.startswith("/testbed/")}


def _edited(path: str, snippet: str) -> str:
    return (
        f"The file {path} has been edited. Here's the result of running `cat -n` on a snippet of {path}:\n"
        f"{snippet}\nReview the changes and make sure they are as expected. Edit the file again if necessary.\n"
    )


def _pytest_output(names: list[str], rng: random.Random) -> str:
    """A `pytest -v` session as the SWE-smith images print it."""
    lines = [
        "============================= test session starts ==============================",
        "platform linux -- Python 3.10.18, pytest-8.3.4, pluggy-1.5.0 -- /opt/miniconda3/envs/testbed/bin/python",
        "cachedir: .pytest_cache",
        "rootdir: /testbed",
        "configfile: pyproject.toml",
        "plugins: cov-4.1.0",
        f"collecting ... \rcollected {len(names)} items",
        "",
    ]
    for i, name in enumerate(names, 1):
        lines.append(f"{name} PASSED".ljust(73) + f"[{100 * i // len(names):3d}%]")
    summary = f" {len(names)} passed in {rng.randint(0, 9)}.{rng.randint(10, 99)}s "
    lines += ["", summary.center(80, "=")]
    return "\n".join(lines) + "\n"


def _text_message(role: str, text: str, message_type: str) -> dict:
    return {"role": role, "content": [{"type": "text", "text": text}], "agent": "main", "message_type": message_type}


def _assistant(text: str, action: str, calls: list[dict] | None) -> dict:
    return {"role": "assistant", "content": text, "thought": text, "action": action, "agent": "main",
            "tool_calls": calls, "message_type": "action"}


def _call(name: str, arguments: str, call_id: str) -> dict:
    return {"index": -1, "function": {"arguments": arguments, "name": name}, "id": call_id, "type": "function"}


def _tool(text: str, call_id: str) -> dict:
    message = _text_message("tool", text, "observation")
    message["tool_call_ids"] = [call_id]
    return message


_OPENING = ("view_dir", "view_file", "create_script", "run_script")
_FILLERS = ("view_range", "grep", "edit_fix", "edit_script", "run_tests", "create_script", "run_script",
            "shell", "quiet", "view_file")
_FILLER_WEIGHTS = (5, 3, 2, 3, 4, 2, 4, 1, 1, 1)
_INJECTED = {
    TEXT_ONLY_MID: "reflect",
    ODD_ARGUMENTS: "odd_arguments",
    CRLF_OUTPUT: "crlf",
    MALFORMED_TOOL_ARGUMENTS: "malformed",
    UNKNOWN_TOOL: "find_file",
    PARALLEL_TOOL_CALLS: "parallel",
}


def _plan(rng: random.Random, n_middle: int, n_fixes: int, case: str | None) -> list[str]:
    """The kinds of the steps before the ending: explore, reproduce, fix, verify, then a random mix."""
    opening = [*_OPENING, *["edit_fix"] * n_fixes, "run_script"]
    plan = opening[:n_middle]
    plan += rng.choices(_FILLERS, weights=_FILLER_WEIGHTS, k=max(0, n_middle - len(plan) - 1))
    if len(plan) < n_middle:
        plan.append("run_tests")
    if case in _INJECTED:  # after the opening look-around, before at least one ordinary step
        plan.insert(rng.randint(2, len(plan) - 1), _INJECTED[case])
    return plan


def _ending(ro: _Rollout, patch: str, case: str | None) -> None:
    """submit -> review -> [clean-up] -> submit -> final diff, or a case's variant of it."""
    if case == NOT_SUBMITTED:
        ro.text_only(COST_LIMIT_EXIT)
        return
    ro.submit(ro.review_text(), "submit")
    if case != TRAILING_SUBMITS and any(p.startswith("/testbed/") for p in ro.scripts):
        ro.cleanup()
    ro.submit(patch, "resubmit")
    if case == TRAILING_SUBMITS:
        ro.text_only(ro.thought(_LEADS["after_submit"], func=ro.task.func_name))
        ro.submit(patch, "resubmit")


def _ending_calls(ro: _Rollout, case: str | None) -> int:
    """Tool calls the ending will take, so the row's total matches the drawn count."""
    if case == NOT_SUBMITTED:
        return 0
    return 3 if case == TRAILING_SUBMITS or ro.scratch_dir == "/testbed" else 2


def _mark_cache_control(messages: list[dict]) -> None:
    """The Anthropic prompt-caching residue found on the last two tool messages of every real row."""
    for message in [m for m in messages if m["role"] == "tool"][-2:]:
        message["cache_control"] = {"type": "ephemeral"}


def _middle_assistants(messages: list[dict]) -> list[dict]:
    """Assistant messages with one tool call, excluding the ending's submits."""
    return [m for m in messages[2:-6] if m["role"] == "assistant" and m["tool_calls"] and len(m["tool_calls"]) == 1]


def _apply_message_case(rng: random.Random, messages: list[dict], case: str | None) -> None:
    """Cases that change existing messages rather than the steps taken."""
    if case == EMPTY_THOUGHT:
        target = rng.choice(_middle_assistants(messages))
        target["thought"] = target["content"] = ""
    elif case == UNCLOSED_THINK:
        target = rng.choice(_middle_assistants(messages))
        target["thought"] = target["content"] = target["content"].replace("</think>", "")
    elif case == MISSING_THOUGHT_KEY:
        for m in messages:
            m.pop("thought", None)
    elif case == CONTENT_AS_STRING:
        for m in messages:
            if m["role"] in ("user", "tool"):
                m["content"] = m["content"][0]["text"]
    elif case == REUSED_CALL_IDS:
        _reuse_call_ids(rng, messages)


def _reuse_call_ids(rng: random.Random, messages: list[dict]) -> None:
    """Give three consecutive steps the id of the first, as older SWE-agent bundles did."""
    steps = [i for i, m in enumerate(messages) if m["role"] == "assistant" and m["tool_calls"]]
    first = rng.randrange(0, len(steps) - 3)
    shared = messages[steps[first]]["tool_calls"][0]["id"]
    for i in steps[first : first + 3]:
        messages[i]["tool_calls"][0]["id"] = shared
        messages[i + 1]["tool_call_ids"] = [shared]


def make_row(dataset: str, index: int, seed: int, size: str = "sample", case: str | None = None) -> dict:
    """One source row of `dataset`, fully determined by the arguments; columns in the published order."""
    if dataset not in DATASETS or size not in SIZES or (case is not None and case not in CASES):
        raise ValueError(f"unknown dataset/size/case: {dataset!r}, {size!r}, {case!r}")
    task = _make_task(seed, size, dataset, index)
    rng = _rng("rollout", seed, size, dataset, index, case)
    is_t2 = dataset.endswith("T2")
    scale = _SCALES[size]
    rollout = _vary(_Text(rng, scale.function_body), task.fix) if is_t2 and rng.random() < 0.7 else task.fix
    ro = _Rollout(rng, task, scale, rollout, case)
    n_calls = scale.calls(rng)
    for kind in _plan(rng, n_calls - _ending_calls(ro, case), len(rollout), case):
        getattr(ro, kind)()
    patch = _render_patch(rollout)
    _ending(ro, patch, case)
    _apply_message_case(rng, ro.messages, case)
    _mark_cache_control(ro.messages)
    messages = json.dumps(ro.messages)
    if case == MESSAGES_NOT_JSON:
        messages = messages[: rng.randint(len(messages) // 3, 2 * len(messages) // 3)]
    null_meta = case == NULL_METADATA
    return {
        "messages": messages,
        "instance_id": task.instance_id,
        "rollout_patch": None if null_meta else ("" if case == NOT_SUBMITTED else patch),
        "func_name": None if null_meta else task.func_name,
        "func_path": None if null_meta else task.func_path,
        "problem_statement": task.problem_statement,
        "target_patch": _render_patch(task.fix) if is_t2 else "",
        "docker_image": task.docker_image,
    }


def sample_case(dataset: str, index: int) -> str | None:
    """The case iter_rows(size="sample") gives row `index` of `dataset`.

    Case k goes to datasets k % 4 and (k + 1) % 4, so each case shows up in one T1 and one T2 dataset and every
    dataset gets eight cases, at rows 1, 4, 7, ... 22; the other rows are ordinary.
    """
    d = DATASETS.index(dataset)
    mine = [c for k, c in enumerate(CASES) if d in (k % 4, (k + 1) % 4)]
    slot, rest = divmod(index, 3)
    return mine[slot] if rest == 1 and slot < len(mine) else None


def iter_rows(dataset: str, n: int, seed: int, size: str = "sample") -> Iterator[dict]:
    """n rows of `dataset`; the sample mixes in the special cases, realistic rows are all ordinary."""
    for index in range(n):
        yield make_row(dataset, index, seed, size, sample_case(dataset, index) if size == "sample" else None)

"""The contract's fixed texts (spec/tools.json, system-prompt.txt, reasoning-templates.txt).

They ship inside the package (sera_rectify/spec/) as exact copies of ../shared/spec/; a unit test
checks the copies against the contract when it is present.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources


def _read(name: str) -> str:
    return resources.files("sera_rectify").joinpath("spec", name).read_text(encoding="utf-8")


@cache
def tool_schemas() -> list[dict]:
    """The three tool schemas as the source trajectories used them."""
    return json.loads(_read("tools.json"))


@cache
def system_prompt_template() -> str:
    """The system message template, exact bytes (no trailing newline is added)."""
    return _read("system-prompt.txt")


@cache
def reasoning_templates() -> tuple[str, ...]:
    """The 12 fill-in texts for empty reasoning, in file order (index 0..11)."""
    return tuple(_read("reasoning-templates.txt").splitlines())

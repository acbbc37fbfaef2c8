"""Parsing JSON text the way the contract means it: strict JSON, lone surrogate escapes allowed.

orjson is fast but refuses lone surrogate escapes (`"\\ud83d"`), which real trajectories contain and
the spec keeps (replaced with U+FFFD, conversion.md §5); stdlib json accepts them but also accepts
NaN / Infinity, which are not JSON. So: orjson first, stdlib json with those constants refused second.
"""

from __future__ import annotations

import json
from typing import Any

import orjson


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def loads_allowing_surrogates(text: str) -> Any:
    """stdlib json, strict about NaN / Infinity; raises ValueError on anything that is not JSON."""
    return json.loads(text, parse_constant=refuse_constant)


def loads(text: str) -> Any:
    """Parse JSON text; raises ValueError (orjson's error is one) when it is not valid JSON."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return loads_allowing_surrogates(text)

"""Parsing JSON text the way the contract means it: strict JSON, lone surrogate escapes allowed.

orjson is fast but refuses lone surrogate escapes (`"\\ud83d"`), which real trajectories contain and
the spec keeps (replaced with U+FFFD, conversion.md §5); stdlib json accepts them but also accepts
NaN / Infinity, which are not JSON. So: orjson first, stdlib json with those constants refused second.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson


def json_type_name(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages a person reads ("an array", not "a list")."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def finite_float(text: str) -> float:
    """A JSON number as a float; one too large for a double (1e400) would be written back as
    Infinity, which is not JSON, so it is refused."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"the number {text[:40]} is too large to keep exactly")
    return value


def loads_allowing_surrogates(text: str) -> Any:
    """stdlib json, strict about NaN / Infinity; raises ValueError on anything that is not JSON,
    including nesting too deep for Python's recursion limit (orjson stops at 1024 levels)."""
    try:
        return json.loads(text, parse_constant=refuse_constant, parse_float=finite_float)
    except RecursionError:
        raise ValueError("JSON nested too deeply to parse") from None


def loads(text: str) -> Any:
    """Parse JSON text; raises ValueError (orjson's error is one) when it is not valid JSON.

    orjson reads an integer beyond 64 bits as a float: use loads_exact where numbers are written back.
    """
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return loads_allowing_surrogates(text)


def contains_float(value: Any) -> bool:
    """True when a parsed JSON value holds a float anywhere."""
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(contains_float(item) for item in value.values())
    if isinstance(value, list):
        return any(contains_float(item) for item in value)
    return False


def loads_exact(text: str) -> Any:
    """Parse JSON text exactly as stdlib json would (strict, lone surrogates allowed), at orjson's
    speed when it can: orjson reads an integer beyond 64 bits as a float (10**30 -> 1e+30), so a
    result holding any float is parsed again by stdlib json, as is any text orjson refuses."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return loads_allowing_surrogates(text)
    return loads_allowing_surrogates(text) if contains_float(value) else value


def dumps_string(text: str) -> str:
    """`text` as a JSON string literal, identical to json.dumps(text, ensure_ascii=False).

    orjson writes the same escapes as stdlib json for every code point (tests/unit/test_jsontext.py
    checks all of them) at several times the speed; it refuses lone surrogates, which stdlib json
    writes as they are (they are replaced afterwards, conversion.md §5).
    """
    try:
        return orjson.dumps(text).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(text, ensure_ascii=False)



def dumps_object(mapping: dict) -> str:
    """Identical to json.dumps(mapping, ensure_ascii=False). Objects whose keys and values are all
    strings (every output message, nearly all tool arguments) are written here with the fast
    `dumps_string`; any other object is left to stdlib json."""
    if all(isinstance(key, str) and isinstance(value, str) for key, value in mapping.items()):
        return "{" + ", ".join(f"{dumps_string(key)}: {dumps_string(value)}" for key, value in mapping.items()) + "}"
    return json.dumps(mapping, ensure_ascii=False)

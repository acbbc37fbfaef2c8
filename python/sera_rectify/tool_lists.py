"""The tool lists sources declare, read into OpenAI tool schemas (docs/formats.md, "Tools come from the
source"): a row's `tools` column, a SWE-agent run's command docs (a .traj's replay_config), a SWE-smith
system prompt's function list. A call to a tool its source does not declare stays a reject (§2).
"""

from __future__ import annotations

import re
from typing import Any

from . import jsontext, reasons
from .reasons import Rejected
from .render import SUBMIT, ToolSet, tool_set


def replay_config(record: dict) -> dict:
    """A .traj's `replay_config` (a JSON string or an object), {} when absent or unreadable."""
    config = record.get("replay_config")
    if isinstance(config, str):
        try:
            config = jsontext.loads(config)
        except ValueError:
            return {}
    return config if isinstance(config, dict) else {}


def without_nulls(value: Any) -> Any:
    """A tool schema without null-valued keys: a Parquet copy of a `tools` column unifies the schemas'
    keys and fills the missing ones with nulls ("enum": null), which no schema means."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def declared_tools(value: Any, submit_names: frozenset[str]) -> ToolSet | None:
    """A row's `tools` column (OpenAI tool schemas, as a list or its JSON text) as a ToolSet."""
    if isinstance(value, str):
        try:
            value = jsontext.loads(value)
        except ValueError:
            raise Rejected(reasons.TOOLS_NOT_DECLARED, "the row's tools column is not valid JSON") from None
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(t, dict) and isinstance(t.get("function"), dict) for t in value):
        raise Rejected(reasons.TOOLS_NOT_DECLARED, "the row's tools column is not a list of OpenAI tool schemas")
    schemas = [without_nulls(tool) for tool in value]
    if not all(isinstance(schema["function"].get("name"), str) for schema in schemas):
        raise Rejected(reasons.TOOLS_NOT_DECLARED, "a schema of the row's tools column has no name")
    return tool_set(schemas, submit_names)


# SWE-agent's command docs (a .traj's replay_config agent.tools.command_docs)

COMMAND_NAME = re.compile(r"^(\S+):\s*$")
COMMAND_FIELD = re.compile(r"^  (docstring|signature|arguments):\s?(.*)$")
COMMAND_ARGUMENT = re.compile(r"^    - (\S+) \(([^)]*)\) \[(required|optional)\]: ?(.*)$")


def command_docs_tools(docs: str) -> list[dict]:
    """The tools a SWE-agent run documented for its model, as OpenAI schemas: each `name:` block's
    docstring is the description, each `- arg (type) [required|optional]: text` line a parameter. These
    docs are what SWE-agent itself builds the function-calling schemas from."""
    tools: list[dict] = []
    field = ""
    for line in docs.splitlines():
        if match := COMMAND_NAME.match(line):
            tools.append({"name": match[1], "description": "", "properties": {}, "required": []})
            field = ""
        elif not tools:
            continue
        elif match := COMMAND_FIELD.match(line):
            field = match[1]
            if field == "docstring":
                tools[-1]["description"] = match[2].strip()
        elif match := COMMAND_ARGUMENT.match(line):
            tools[-1]["properties"][match[1]] = {"type": match[2], "description": match[4].strip()}
            if match[3] == "required":
                tools[-1]["required"].append(match[1])
        elif field == "docstring" and line.strip():
            tools[-1]["description"] = (tools[-1]["description"] + "\n" + line.strip()).strip()
    return [openai_schema(tool["name"], tool["description"], tool["properties"], tool["required"]) for tool in tools]


def openai_schema(name: str, description: str, properties: dict, required: list[str]) -> dict:
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        parameters["required"] = required
    return {"type": "function", "function": {"name": name, "description": description, "parameters": parameters}}


def traj_tools(record: dict) -> ToolSet | None:
    """The tools a .traj's run declared: its replay_config command docs, ended by its submit command."""
    tools = replay_config(record).get("agent", {}).get("tools", {})
    if not isinstance(tools, dict) or not isinstance(tools.get("command_docs"), str):
        return None
    submit = tools.get("submit_command") if isinstance(tools.get("submit_command"), str) else SUBMIT
    return tool_set(command_docs_tools(tools["command_docs"]), frozenset({submit}))


# ---------------------------------------------------------------------------------------------
# SWE-smith's function list (the system prompt's "---- BEGIN FUNCTION #1: bash ----" blocks)

FUNCTION_BLOCK = re.compile(r"---- BEGIN FUNCTION #\d+: (\S+) ----\n(.*?)\n---- END FUNCTION #\d+ ----", re.S)
FUNCTION_PARAMETER = re.compile(r"^  \(\d+\) (\S+) \(([^,)]*), (required|optional)\): ?(.*)$")
ALLOWED_VALUES = re.compile(r"^Allowed values: \[(.*)\]$")


def function_list_tools(system: str) -> list[dict]:
    """The functions a SWE-smith system prompt lists, as OpenAI schemas: the text after `Description:`
    up to `Parameters:` is the description; `(n) name (type, required): text` lines are parameters and an
    `Allowed values: [...]` line under one is its enum."""
    schemas = []
    for name, body in FUNCTION_BLOCK.findall(system):
        description, _, parameter_text = body.partition("\nParameters:\n")
        description = description.removeprefix("Description: ").replace("\nNo parameters are required for this function.", "")
        properties: dict[str, dict] = {}
        required: list[str] = []
        last = None
        for line in parameter_text.splitlines():
            if match := FUNCTION_PARAMETER.match(line):
                last = properties[match[1]] = {"type": match[2], "description": match[4].strip()}
                if match[3] == "required":
                    required.append(match[1])
            elif (match := ALLOWED_VALUES.match(line.strip())) and last is not None:
                last["enum"] = [value.strip().strip("`") for value in match[1].split(",")]
        schemas.append(openai_schema(name, description.strip(), properties, required))
    return schemas

"""Shared builders and fixtures for the unit tests.

`SeraHistory` builds SWE-agent message lists shaped exactly like the published SERA rows (see
tests/fixtures/sera/ and ../shared/spec/sources.md, "Messages inside messages"):

- system: role, content (a plain string), agent, message_type
- user: content a list of one text part
- assistant: role, content == thought == "<think>...</think>\\ncommentary", action, agent, tool_calls
  (one OpenAI-style call, index -1, arguments a JSON *string*), message_type
- tool: content a list of one text part starting "OBSERVATION:\\n", tool_call_ids (one id),
  cache_control on the last two tool messages.

Real data lives in tests/fixtures/ (checked in, with its ATTRIBUTION.md): the unit tests never read ../shared.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from sera_testkit.constants import EMPTY_OUTPUT, OBSERVATION, PACKAGE_SPEC_DIR, SERA_ROWS_FILE, SERA_SYSTEM, SWE_AGENT_DIR

SERA_USER = (
    "<uploaded_files>\n/testbed\n</uploaded_files>\n"
    "I've uploaded a python code repository in the directory /testbed. Consider the following PR description:\n\n"
    "<pr_description>\n\nmetadata:\n  id: tinydb-jsonstorage-write-issue\n  type: bug\n</pr_description>\n\n"
    "Can you help me implement the necessary changes to the repository so that the requirements specified "
    "in the <pr_description> are met?\nYour thinking should be thorough and so it's fine if it's very long."
)
REVIEW = (
    "Thank you for your work on this issue. Please carefully follow the steps below to help review your changes.\n\n"
    "1. If you made any changes to your code after running the reproduction script, please run the reproduction "
    "script again.\n  If the reproduction script is failing, please revisit your changes and make sure they are correct.\n"
    "2. Remove your reproduction script (if you haven't done so already).\n\n"
    "Here is a list of all of your changes:\n\n<diff>\ndiff --git a/x.py b/x.py\n</diff>\n"
)
_SAME = object()  # "thought equals content", as in every real SERA row


class SeraHistory:
    """Builders for SERA-shaped message lists. Each builder returns a list of messages; `history`
    joins them after the system and user messages, numbers the call ids and marks the last two
    tool messages with cache_control, as the real rows are."""

    SYSTEM = SERA_SYSTEM
    USER = SERA_USER
    REVIEW = REVIEW
    EMPTY_OUTPUT = EMPTY_OUTPUT

    @staticmethod
    def system(content: Any = SERA_SYSTEM) -> dict:
        return {"role": "system", "content": content, "agent": "main", "message_type": "system_prompt"}

    @staticmethod
    def user(text: str = SERA_USER) -> dict:
        return {"role": "user", "content": [{"type": "text", "text": text}], "agent": "main", "message_type": "observation"}

    @staticmethod
    def assistant_text(think: str | None, commentary: str = "") -> str:
        """ "<think>think</think>" + ("\\n" + commentary if any): the shape of every real assistant text."""
        text = "" if think is None else f"<think>{think}</think>"
        if commentary:
            text += ("\n" if text else "") + commentary
        return text

    @staticmethod
    def action_of(name: str, arguments: Any) -> str:
        if name == "submit":
            return "submit"
        if isinstance(arguments, dict) and name == "bash":
            return str(arguments.get("command", ""))
        if isinstance(arguments, dict):
            return " ".join([str(name)] + [str(arguments[k]) for k in ("command", "path") if k in arguments])
        return str(name)

    @classmethod
    def call(
        cls,
        name: str = "bash",
        arguments: Any = None,
        output: str | None = "ok\n",
        *,
        think: str | None = "Let me look at the repository first.",
        commentary: str = "I'll start by exploring the repository.",
        content: Any = None,
        thought: Any = _SAME,
        raw_arguments: Any = _SAME,
        call_id: str | None = None,
        observation_prefix: bool = True,
        extra_calls: int = 0,
    ) -> list[dict]:
        """An assistant tool call and (unless output is None) its tool message.

        `arguments` (a dict) is JSON-encoded like the real rows; `raw_arguments` puts any value as is.
        `output` gets the "OBSERVATION:\\n" prefix unless observation_prefix=False.
        """
        if arguments is None:
            arguments = {} if name == "submit" else {"command": "ls /testbed"}
        if content is None:
            content = cls.assistant_text(think, commentary)
        args_value = json.dumps(arguments) if raw_arguments is _SAME else raw_arguments
        tool_call = {"index": -1, "function": {"arguments": args_value, "name": name}, "id": call_id, "type": "function"}
        assistant = {
            "role": "assistant",
            "content": content,
            "thought": content if thought is _SAME else thought,
            "action": cls.action_of(name, arguments),
            "agent": "main",
            "tool_calls": [tool_call] + [dict(tool_call, id=None) for _ in range(extra_calls)],
            "message_type": "action",
        }
        if thought is None:
            del assistant["thought"]
        if output is None:
            return [assistant]
        text = (OBSERVATION if observation_prefix else "") + output
        return [assistant, cls.tool(text)]

    @classmethod
    def submit(cls, output: str | None = REVIEW, **kwargs: Any) -> list[dict]:
        """A submit call; by default its output is the review request of a first submit (REVIEW).
        output=None: no tool message follows (a final submit without output)."""
        kwargs.setdefault("think", "The fix works; let me submit.")
        kwargs.setdefault("commentary", "")
        return cls.call("submit", {}, output, **kwargs)

    @staticmethod
    def tool(text: str, call_id: str | None = None) -> dict:
        return {
            "role": "tool",
            "content": [{"type": "text", "text": text}],
            "agent": "main",
            "message_type": "observation",
            "tool_call_ids": [call_id],
        }

    @classmethod
    def text_only(cls, text: str, *, tool_calls: Any = None, thought: Any = _SAME) -> list[dict]:
        """An assistant message without a tool call (e.g. "Exit due to cost limit")."""
        message = {
            "role": "assistant",
            "content": text,
            "thought": text if thought is _SAME else thought,
            "action": "",
            "agent": "main",
            "tool_calls": tool_calls,
            "message_type": "action",
        }
        if thought is None:
            del message["thought"]
        return [message]

    @classmethod
    def history(cls, *parts: list[dict], system: Any = SERA_SYSTEM, user: str = SERA_USER, preamble: bool = True) -> list[dict]:
        """system + user + the given parts; call ids numbered in order, each tool message carries the
        id of the call right before it; cache_control on the last two tool messages."""
        messages = ([cls.system(system), cls.user(user)] if preamble else []) + [m for part in parts for m in part]
        counter = 0
        last_id = None
        for message in messages:
            for tool_call in message.get("tool_calls") or []:
                if isinstance(tool_call, dict) and tool_call.get("id", "") is None:
                    counter += 1
                    tool_call["id"] = f"call_{counter:024x}"
                if isinstance(tool_call, dict):
                    last_id = tool_call.get("id")
            if message.get("role") == "tool" and message.get("tool_call_ids") == [None]:
                message["tool_call_ids"] = [last_id]
        tools = [m for m in messages if m.get("role") == "tool"]
        for message in tools[-2:]:
            message["cache_control"] = {"type": "ephemeral"}
        return messages

    @classmethod
    def minimal(cls, **kwargs: Any) -> list[dict]:
        """The smallest real-shaped trajectory that converts: one bash step, one submit."""
        return cls.history(cls.call(), cls.submit("diff --git a/x b/x\n"), **kwargs)


@pytest.fixture
def sera() -> type[SeraHistory]:
    """The SERA-shaped history builders."""
    return SeraHistory


@pytest.fixture(name="H")
def history_builders() -> type[SeraHistory]:
    """The same builders under a short name, for tables of histories (`lambda H: H.history(...)`).

    Test modules get the builders through fixtures rather than `import conftest`: several conftest.py
    files without __init__.py share the module name "conftest" and would clash.
    """
    return SeraHistory


@pytest.fixture(scope="session")
def sera_rows() -> list[dict]:
    """The three real rows of allenai/Sera-4.6-Lite-T2 (published column layout; messages a JSON string)."""
    with open(SERA_ROWS_FILE, encoding="utf-8") as handle:
        return json.load(handle)


def load_swe_agent(name: str) -> tuple[list[dict], str | None]:
    """A SWE-agent fixture's message list and its info.submission (None when absent)."""
    path = SWE_AGENT_DIR / name
    with open(path, encoding="utf-8") as handle:
        data = yaml.safe_load(handle) if path.suffix in (".yaml", ".yml") else json.load(handle)
    history = data.get("history")
    if history is None:
        history = data.get("trajectory")
    info = data.get("info") or {}
    return history, info.get("submission")


@pytest.fixture(scope="session")
def swe_agent_fixture():
    """Loader: file name in tests/fixtures/swe-agent/ -> (history, info.submission)."""
    cache: dict[str, tuple[list[dict], str | None]] = {}

    def load(name: str) -> tuple[list[dict], str | None]:
        if name not in cache:
            cache[name] = load_swe_agent(name)
        history, submission = cache[name]
        return json.loads(json.dumps(history)), submission  # a private copy per caller

    return load


@pytest.fixture(scope="session")
def system_prompt_template() -> str:
    """system-prompt.txt as checked in with the package (exact bytes, read independently of spec.py)."""
    return (PACKAGE_SPEC_DIR / "system-prompt.txt").read_bytes().decode("utf-8")


@pytest.fixture(scope="session")
def tools_list() -> list[dict]:
    return json.loads((PACKAGE_SPEC_DIR / "tools.json").read_bytes().decode("utf-8"))


@pytest.fixture(scope="session")
def reasoning_templates_list() -> list[str]:
    return (PACKAGE_SPEC_DIR / "reasoning-templates.txt").read_bytes().decode("utf-8").splitlines()

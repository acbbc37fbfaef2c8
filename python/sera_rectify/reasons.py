"""Reject reason codes: the exact strings of spec/conversion.md and spec/sources.md, in one place.

Every reject the pipeline writes carries one of these codes. `MEANINGS` says where each rule is
specified and what it means; the dbt model stg_spec__reject_reasons serves that table to SQL (the
reject test and the card read it there). Adding a reason is one edit here: a constant and its meaning. A rule that finds a problem raises
`Rejected` with one of them; the converter turns it into a reject row, so no caller sees an exception
for bad data.
"""


class Rejected(Exception):
    """Raised by a rule when the trajectory breaks it; carries the reason code and a human detail."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# sources.md, "Bad lines and bad files": checked before every conversion rule.
LINE_NOT_UTF8 = "line_not_utf8"
LINE_NOT_JSON = "line_not_json"
LINE_NOT_AN_OBJECT = "line_not_an_object"

# conversion.md §1 Parse
MESSAGES_MISSING = "messages_missing"
MESSAGES_NOT_JSON = "messages_not_json"
MESSAGES_NOT_A_LIST = "messages_not_a_list"
MESSAGES_EMPTY = "messages_empty"
UNKNOWN_ROLE = "unknown_role"
UNSUPPORTED_CONTENT_PART = "unsupported_content_part"
BAD_PREAMBLE = "bad_preamble"
UNEXPECTED_USER_MESSAGE = "unexpected_user_message"
UNEXPECTED_SYSTEM_MESSAGE = "unexpected_system_message"

# conversion.md §2 Pair calls with outputs
PARALLEL_TOOL_CALLS = "parallel_tool_calls"
UNKNOWN_TOOL = "unknown_tool"
MALFORMED_TOOL_ARGUMENTS = "malformed_tool_arguments"
MISSING_TOOL_OUTPUT = "missing_tool_output"
ORPHAN_TOOL_OUTPUT = "orphan_tool_output"

# docs/formats.md: a format whose tools come from the source (not SERA's spec/tools.json)
TOOLS_NOT_DECLARED = "tools_not_declared"

# conversion.md §3 Submit
NOT_SUBMITTED = "not_submitted"

# code -> (spec file and section, meaning), in spec order
MEANINGS: dict[str, tuple[str, str]] = {
    LINE_NOT_UTF8: ("sources.md", "the JSON Lines line holds bytes that are not valid UTF-8"),
    LINE_NOT_JSON: ("sources.md", "the JSON Lines line is not valid JSON (e.g. a truncated last line)"),
    LINE_NOT_AN_OBJECT: ("sources.md", "the JSON Lines line is valid JSON but not an object (e.g. [1, 2, 3])"),
    MESSAGES_MISSING: ("conversion.md §1", "messages is null or an empty string"),
    MESSAGES_NOT_JSON: ("conversion.md §1", "messages is not valid JSON"),
    MESSAGES_NOT_A_LIST: ("conversion.md §1", "messages is not a list of objects"),
    MESSAGES_EMPTY: ("conversion.md §1", "messages is an empty list"),
    UNKNOWN_ROLE: ("conversion.md §1", "a message has a role other than system, user, assistant, tool"),
    UNSUPPORTED_CONTENT_PART: ("conversion.md §1", "a content part is not text, or content is neither string, list nor null"),
    BAD_PREAMBLE: ("conversion.md §1", "message 0 is not system or message 1 is not user"),
    UNEXPECTED_USER_MESSAGE: ("conversion.md §1", "a user message after the preamble"),
    UNEXPECTED_SYSTEM_MESSAGE: ("conversion.md §1", "a system message after the preamble"),
    PARALLEL_TOOL_CALLS: ("conversion.md §2", "an assistant message with more than one tool call"),
    UNKNOWN_TOOL: ("conversion.md §2", "a tool call to a tool not in tools.json"),
    MALFORMED_TOOL_ARGUMENTS: ("conversion.md §2", "tool arguments that are not a JSON object (bad JSON, a list, a number)"),
    MISSING_TOOL_OUTPUT: ("conversion.md §2", "a tool call not followed by a tool message (other than a final submit)"),
    ORPHAN_TOOL_OUTPUT: ("conversion.md §2", "a tool message that does not directly follow an assistant tool call"),
    NOT_SUBMITTED: ("conversion.md §3", "the last tool call is not a submit (e.g. \"Exit due to cost limit\")"),
    TOOLS_NOT_DECLARED: ("docs/formats.md", "the source declares no readable tool list (tools column, command docs, function list)"),
}
REJECT_REASONS: tuple[str, ...] = tuple(MEANINGS)

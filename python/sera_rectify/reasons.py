"""Reject reason codes: the exact strings of spec/conversion.md and spec/sources.md, in one place.

Every reject the pipeline writes carries one of these codes. `REJECT_REASONS` is also written to
seeds/reject_reasons.csv; a unit test keeps the two in step, and a dbt test keeps every reject
within the seed.
"""

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

# conversion.md §3 Submit
NOT_SUBMITTED = "not_submitted"

REJECT_REASONS: tuple[str, ...] = (
    LINE_NOT_UTF8,
    LINE_NOT_JSON,
    LINE_NOT_AN_OBJECT,
    MESSAGES_MISSING,
    MESSAGES_NOT_JSON,
    MESSAGES_NOT_A_LIST,
    MESSAGES_EMPTY,
    UNKNOWN_ROLE,
    UNSUPPORTED_CONTENT_PART,
    BAD_PREAMBLE,
    UNEXPECTED_USER_MESSAGE,
    UNEXPECTED_SYSTEM_MESSAGE,
    PARALLEL_TOOL_CALLS,
    UNKNOWN_TOOL,
    MALFORMED_TOOL_ARGUMENTS,
    MISSING_TOOL_OUTPUT,
    ORPHAN_TOOL_OUTPUT,
    NOT_SUBMITTED,
)

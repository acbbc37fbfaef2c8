-- spec/conversion.md §6, re-checked in SQL independently of the Python converter: every row of
-- sera_rectified is system -> user -> reasoning -> (tool_call -> tool_output -> reasoning)* -> answer,
-- rendered exactly as §5 says (a JSON list of {"role": ..., "content": "..."} objects, default
-- separators), each content wrapped in its role's tags, and no empty reasoning. The tool_call contents
-- are checked by assert_tool_calls_are_valid.sql.
--
-- One regular expression over the raw `messages` text checks the rendering, the role sequence and the
-- tags at once, and nothing is copied. `c` below is one character of a JSON string: anything but a
-- quote, a backslash or a control character, or one of JSON's escapes. So a full match also proves
-- the text is valid JSON (no separate json_valid pass).
-- Memory: each test reads sera_rectified once, in one streaming pass (no CTE read twice, no union of
-- two scans), which is also why the check is split in two tests.
-- Returns one row per failing trajectory (zero rows passes).

{%- set c -%}(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4}){%- endset %}

with

trajectories_checked as (

    select
        source_dataset,
        source_file,
        source_row,
        case
            when
                not coalesce(regexp_full_match(
                    messages,
                    -- one pattern, written in pieces (DuckDB folds the constant before it compiles it)
                    '\[\{"role": "system", "content": "{{ c }}*"\}, '
                    || '\{"role": "user", "content": "{{ c }}*"\}, '
                    || '\{"role": "reasoning", "content": "<think>{{ c }}+</think>"\}'
                    || '(?:, \{"role": "tool_call", "content": "<tool_call>{{ c }}*</tool_call>"\}, '
                    || '\{"role": "tool_output", "content": "<tool_response>{{ c }}*</tool_response>"\}, '
                    || '\{"role": "reasoning", "content": "<think>{{ c }}+</think>"\})*, '
                    || '\{"role": "answer", "content": "<answer>{{ c }}*</answer>"\}\]'
                ), false)
                then
                    'messages is not valid JSON rendered as system, user, reasoning, (tool_call, tool_output, reasoning)*, answer '
                    || '{"role": ..., "content": ...} objects with each content in its tags and no empty reasoning'
        end as problem
    from {{ ref('sera_rectified') }}

)

select * from trajectories_checked
where problem is not null

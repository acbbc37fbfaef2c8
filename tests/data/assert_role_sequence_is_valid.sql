-- spec/conversion.md §6, re-checked in SQL independently of the Python converter: every row of
-- sera_rectified is system -> user -> reasoning -> (tool_call -> tool_output -> reasoning)* -> answer,
-- rendered exactly as §5 says (a JSON list of {"role": ..., "content": "..."} objects, default
-- separators), each content wrapped in its role's tags, and no empty reasoning. The tool_call contents
-- are checked by assert_tool_calls_are_valid.sql.
--
-- One regular expression over the raw `messages` text checks the rendering, the role sequence and the
-- tags at once: a JSON string cannot hold an unescaped quote, so `(?:[^"\\]|\\.)` walks one content
-- character at a time, and nothing is copied.
-- Memory: DuckDB reads 2,048 rows at a time, so one scan of 100+ KB rows holds hundreds of MB per
-- thread. Each test reads sera_rectified once, in one streaming pass (no CTE read twice, no union of
-- two scans), which is also why the check is split in two tests.
-- Returns one row per failing trajectory (zero rows passes).

with

trajectories_checked as (

    select
        source_dataset,
        source_file,
        source_row,
        case
            when not coalesce(json_valid(messages), false) then 'messages is not valid JSON'
            when not regexp_full_match(
                messages,
                '\[\{"role": "system", "content": "(?:[^"\\]|\\.)*"\}, \{"role": "user", "content": "(?:[^"\\]|\\.)*"\}, \{"role": "reasoning", "content": "<think>(?:[^"\\]|\\.)+</think>"\}(, \{"role": "tool_call", "content": "<tool_call>(?:[^"\\]|\\.)*</tool_call>"\}, \{"role": "tool_output", "content": "<tool_response>(?:[^"\\]|\\.)*</tool_response>"\}, \{"role": "reasoning", "content": "<think>(?:[^"\\]|\\.)+</think>"\})*, \{"role": "answer", "content": "<answer>(?:[^"\\]|\\.)*</answer>"\}\]'
            ) then 'messages is not system, user, reasoning, (tool_call, tool_output, reasoning)*, answer rendered as '
                || '{"role": ..., "content": ...} objects with each content in its tags and no empty reasoning'
        end as problem
    from {{ ref('sera_rectified') }}

)

select * from trajectories_checked
where problem is not null

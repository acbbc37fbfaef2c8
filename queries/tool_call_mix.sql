-- Tool-call mix: tool_call messages by tool name (and str_replace_editor by its command), over all converted rows.
-- A submit is normally the answer, not a tool_call; it shows up here only where the agent cleaned up after the
-- review request (spec/conversion.md §3). n_calls sums to sum(n_tool_calls) of sera_rectified.
-- It parses every row's message list: count on roughly 15-30 s per GB of messages.

with

calls as (

    select
        converted.source_dataset,
        converted.source_file,
        converted.source_row,
        -- content is '<tool_call>' + {"name": ..., "arguments": {...}} + '</tool_call>'
        json(substr(call.content, 12, length(call.content) - 23)) as tool_call
    from sera_rectified as converted,
        unnest(
            list_filter(
                from_json(converted.messages, '[{"role": "VARCHAR", "content": "VARCHAR"}]'),
                lambda message: message.role = 'tool_call'
            )
        ) as t(call)

),

named as (

    select
        source_dataset,
        source_file,
        source_row,
        tool_call ->> '$.name' as tool,
        case
            when tool_call ->> '$.name' = 'str_replace_editor' then tool_call ->> '$.arguments.command'
        end as editor_command
    from calls

)

select
    tool,
    editor_command,
    count(*) as n_calls,
    round(100 * count(*) / sum(count(*)) over (), 2) as pct_of_calls,
    count(distinct (source_dataset, source_file, source_row)) as n_trajectories
from named
group by tool, editor_command
order by n_calls desc, tool, editor_command;

-- spec/conversion.md §6, re-checked in SQL independently of the Python converter: every row of
-- sera_rectified is system -> user -> reasoning -> (tool_call -> tool_output -> reasoning)* -> answer,
-- each content wrapped in its role's tags, each tool_call a {name, arguments} object naming a known tool.
-- Returns one row per problem found (zero rows passes).

with

converted as (

    select
        source_dataset,
        source_file,
        source_row,
        messages
    from {{ ref('sera_rectified') }}

),

allowed_transitions as (

    select * from (
        values
            ('system', 'user'),
            ('user', 'reasoning'),
            ('reasoning', 'tool_call'),
            ('reasoning', 'answer'),
            ('tool_call', 'tool_output'),
            ('tool_output', 'reasoning')
    ) as t(previous_role, role)

),

role_tags as (

    select * from (
        values
            ('system', '', ''),
            ('user', '', ''),
            ('reasoning', '<think>', '</think>'),
            ('tool_call', '<tool_call>', '</tool_call>'),
            ('tool_output', '<tool_response>', '</tool_response>'),
            ('answer', '<answer>', '</answer>')
    ) as t(role, open_tag, close_tag)

),

rows_not_json as (

    select
        source_dataset,
        source_file,
        source_row,
        'messages is not a JSON list' as problem
    from converted
    where not coalesce(json_valid(messages) and json_type(messages) = 'ARRAY' and json_array_length(messages) > 0, false)

),

message_lists as (

    select
        source_dataset,
        source_file,
        source_row,
        json_extract(messages, '$[*]') as message_list
    from converted
    where json_valid(messages) and json_type(messages) = 'ARRAY'

),

messages_unnested as (

    select
        source_dataset,
        source_file,
        source_row,
        unnest(message_list) as message,
        generate_subscripts(message_list, 1) as position,
        len(message_list) as n_messages
    from message_lists

),

messages_parsed as (

    select
        source_dataset,
        source_file,
        source_row,
        position,
        n_messages,
        json_keys(message) as message_keys,
        json_type(message, '$.content') as content_type,
        message ->> 'role' as role,
        message ->> 'content' as content
    from messages_unnested

),

messages_with_previous_role as (

    select
        *,
        lag(role) over (partition by source_dataset, source_file, source_row order by position) as previous_role
    from messages_parsed

),

tool_calls as (

    select
        source_dataset,
        source_file,
        source_row,
        position,
        content[length('<tool_call>') + 1 : length(content) - length('</tool_call>')] as call_json
    from messages_parsed
    where role = 'tool_call'
        and content like '<tool_call>%</tool_call>'

),

message_problems as (

    select
        source_dataset,
        source_file,
        source_row,
        'message ' || position || ': ' || case
            when message_keys != ['role', 'content'] then 'keys are not exactly role, content'
            when content_type is distinct from 'VARCHAR' then 'content is not a string'
            when position = 1 and role != 'system' then 'first message is ' || coalesce(role, 'null') || ', not system'
            when position > 1 and not exists (
                select 1 from allowed_transitions as allowed
                where allowed.previous_role = messages_with_previous_role.previous_role
                    and allowed.role = messages_with_previous_role.role
            ) then 'transition ' || previous_role || ' -> ' || coalesce(role, 'null') || ' is not allowed'
            when position = n_messages and role != 'answer' then 'last message is ' || role || ', not answer'
            when not exists (
                select 1 from role_tags as tags
                where tags.role = messages_with_previous_role.role
                    and starts_with(content, tags.open_tag)
                    and ends_with(content, tags.close_tag)
                    and length(content) >= length(tags.open_tag) + length(tags.close_tag)
            ) then role || ' content is not wrapped in its tags'
            when role = 'reasoning' and content = '<think></think>' then 'reasoning is empty'
        end as problem
    from messages_with_previous_role

),

tool_call_problems as (

    select
        source_dataset,
        source_file,
        source_row,
        'message ' || position || ': ' || case
            when not json_valid(call_json) or json_type(call_json) != 'OBJECT' then 'tool_call is not a JSON object'
            when json_keys(call_json) != ['name', 'arguments'] then 'tool_call keys are not exactly name, arguments'
            when json_type(call_json, '$.arguments') != 'OBJECT' then 'tool_call arguments are not an object'
            when (call_json ->> 'name') not in (
                {%- for name in var('tool_names') %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor -%}
            ) then 'tool_call names unknown tool ' || (call_json ->> 'name')
        end as problem
    from tool_calls

),

problems as (

    select * from rows_not_json
    union all
    select * from message_problems where problem is not null
    union all
    select * from tool_call_problems where problem is not null

)

select * from problems

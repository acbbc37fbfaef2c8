-- spec/conversion.md §6, re-checked in SQL independently of the Python converter: every row of
-- sera_rectified is system -> user -> reasoning -> (tool_call -> tool_output -> reasoning)* -> answer,
-- rendered exactly as §5 says (a JSON list of {"role": ..., "content": "..."} objects, default
-- separators), each content wrapped in its role's tags, no empty reasoning, and each tool_call a
-- {name, arguments} object (arguments an object) naming a tool of spec/tools.json.
--
-- How: one regular expression over the raw `messages` text checks the rendering, the role sequence
-- and the tags at once (a JSON string cannot hold an unescaped quote, so `(?:[^"\\]|\\.)` walks one
-- content character at a time); only the tool_call contents are extracted and parsed. Nothing else is
-- copied: DuckDB handles 2,048 rows at a time, so each copy of 100+ KB rows would cost hundreds of MB.
-- Returns one row per failing trajectory with the problem found (zero rows passes).

with

converted as (

    select
        source_dataset,
        source_file,
        source_row,
        messages
    from {{ ref('sera_rectified') }}

),

messages_matched as (

    select
        source_dataset,
        source_file,
        source_row,
        coalesce(json_valid(messages), false) as is_json,
        coalesce(regexp_full_match(
            messages,
            '\[\{"role": "system", "content": "(?:[^"\\]|\\.)*"\}, \{"role": "user", "content": "(?:[^"\\]|\\.)*"\}, \{"role": "reasoning", "content": "<think>(?:[^"\\]|\\.)+</think>"\}(, \{"role": "tool_call", "content": "<tool_call>(?:[^"\\]|\\.)*</tool_call>"\}, \{"role": "tool_output", "content": "<tool_response>(?:[^"\\]|\\.)*</tool_response>"\}, \{"role": "reasoning", "content": "<think>(?:[^"\\]|\\.)+</think>"\})*, \{"role": "answer", "content": "<answer>(?:[^"\\]|\\.)*</answer>"\}\]'
        ), false) as is_valid_sequence,
        -- the JSON-escaped text inside each <tool_call>...</tool_call>, in order
        regexp_extract_all(
            messages,
            '\{"role": "tool_call", "content": "<tool_call>((?:[^"\\]|\\.)*)</tool_call>"\}',
            1
        ) as escaped_calls
    from converted

),

tool_calls_decoded as (

    select
        *,
        case
            when is_json and is_valid_sequence
                then list_transform(escaped_calls, lambda escaped: json_extract_string('"' || escaped || '"', '$'))
        end as call_list
    from messages_matched

),

tool_calls_checked as (

    select
        source_dataset,
        source_file,
        source_row,
        is_json,
        is_valid_sequence,
        list_position(list_transform(call_list, lambda c: json_valid(c)), false) as first_call_not_json,
        -- json_type / json_keys raise on text that is not JSON: only reached when every call parses
        case
            when list_position(list_transform(call_list, lambda c: json_valid(c)), false) is null then list_position(
                list_transform(
                    call_list,
                    lambda c: coalesce(
                        json_type(c) = 'OBJECT'
                        and json_keys(c) = ['name', 'arguments']
                        and json_type(c, '$.arguments') = 'OBJECT'
                        and (c ->> 'name') in (
                            {%- for name in var('tool_names') %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor -%}
                        ),
                        false
                    )
                ),
                false
            )
        end as first_bad_call
    from tool_calls_decoded

),

-- one expression over one stream: a CTE referenced several times would be materialized whole
problems as (

    select
        source_dataset,
        source_file,
        source_row,
        case
            when not is_json then 'messages is not valid JSON'
            when not is_valid_sequence
                then 'messages is not system, user, reasoning, (tool_call, tool_output, reasoning)*, answer rendered as '
                || '{"role": ..., "content": ...} objects with each content in its tags and no empty reasoning'
            when first_call_not_json > 0
                then 'tool call ' || first_call_not_json || ' (message ' || (3 * first_call_not_json) || ') is not JSON'
            when first_bad_call > 0
                then 'tool call ' || first_bad_call || ' (message ' || (3 * first_bad_call) || ') is not {name, arguments} '
                || 'with an object and a tool of tools.json'
        end as problem
    from tool_calls_checked

)

select * from problems
where problem is not null

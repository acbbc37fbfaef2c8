-- spec/conversion.md §5-§6, re-checked in SQL independently of the Python converter: the JSON inside
-- every <tool_call>...</tool_call> of sera_rectified is an object with exactly the keys name and
-- arguments, in that order, arguments an object, and name a tool of spec/tools.json.
-- Memory: DuckDB reads 2,048 rows at a time, so one scan of 100+ KB rows holds hundreds of MB per
-- thread. Each test reads sera_rectified once, in one streaming pass (no CTE read twice, no union of
-- two scans), which is also why the check is split in two tests.
-- Returns one row per bad tool call (zero rows passes).

with

tools as (

    select * from {{ ref('stg_spec__tools') }}

),

tool_calls as (

    -- the JSON-escaped text inside each <tool_call>...</tool_call>, one row per call. Plain string
    -- splits, not a regular expression (faster, docs/benchmark.md): the marker's unescaped quotes cannot occur
    -- inside a JSON string, and assert_role_sequence_is_valid checks the structure around it
    select
        source_dataset,
        source_file,
        source_row,
        unnest(list_transform(
            string_split(messages, '{"role": "tool_call", "content": "<tool_call>')[2:],
            lambda piece: split_part(piece, '</tool_call>"}', 1)
        )) as escaped_call
    from {{ ref('sera_rectified') }}

),

tool_calls_decoded as (

    select
        source_dataset,
        source_file,
        source_row,
        -- json_extract_string and the json_* functions raise on text that is not JSON: case guards them
        case
            when json_valid('"' || escaped_call || '"') then json_extract_string('"' || escaped_call || '"', '$')
        end as call_json
    from tool_calls

),

tool_calls_named as (

    select
        *,
        -- computed here, guarded, because the `in (select ...)` below is evaluated as a join, outside
        -- the case that checks the JSON first
        case
            when json_valid(call_json) and json_type(call_json) = 'OBJECT' then call_json ->> 'name'
        end as called_tool
    from tool_calls_decoded

),

tool_calls_checked as (

    select
        source_dataset,
        source_file,
        source_row,
        case
            when call_json is null or not json_valid(call_json) then 'a tool_call is not JSON: ' || left(coalesce(call_json, ''), 120)
            when not coalesce(
                json_type(call_json) = 'OBJECT'
                and json_keys(call_json) = ['name', 'arguments']
                and json_type(call_json, '$.arguments') = 'OBJECT'
                and called_tool in (select tools.tool_name from tools),
                false
            ) then 'a tool_call is not {name, arguments} with an object and a tool of tools.json: ' || left(call_json, 120)
        end as problem
    from tool_calls_named

)

select * from tool_calls_checked
where problem is not null

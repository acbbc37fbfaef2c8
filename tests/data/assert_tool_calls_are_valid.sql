-- spec/conversion.md §5-§6, re-checked in SQL independently of the Python converter: the JSON inside
-- every <tool_call>...</tool_call> of sera_rectified is an object with exactly the keys name and
-- arguments, in that order, arguments an object, and name a tool its row's source declares (the row's
-- `tools`: spec/tools.json for SERA rows, the source's own for other formats, docs/formats.md).
-- Memory: DuckDB reads 2,048 rows at a time, so one scan of 100+ KB rows holds hundreds of MB per
-- thread. Each test reads the messages of sera_rectified once, in one streaming pass (no CTE read
-- twice, no union of two scans), which is also why the check is split in two tests; the tool lists are
-- a second scan of the short `tools` column only.
-- Returns one row per bad tool call (zero rows passes).

with

tool_lists as (

    select distinct tools from {{ ref('sera_rectified') }}

),

declared_tools as (

    -- each tool list of the build, keyed by its hash, with the names it declares
    select
        hash(tools) as tools_key,
        unnest(cast(json_extract_string(tools, '$[*].function.name') as varchar[])) as tool_name
    from tool_lists

),

tool_calls as (

    -- the JSON-escaped text inside each <tool_call>...</tool_call>, one row per call. Plain string
    -- splits, not a regular expression (faster, docs/benchmark.md): the marker's unescaped quotes cannot occur
    -- inside a JSON string, and assert_role_sequence_is_valid checks the structure around it
    select
        source_dataset,
        source_file,
        source_row,
        hash(tools) as tools_key,
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
        tools_key,
        -- json_extract_string and the json_* functions raise on text that is not JSON: case guards them
        case
            when json_valid('"' || escaped_call || '"') then json_extract_string('"' || escaped_call || '"', '$')
        end as call_json
    from tool_calls

),

tool_calls_named as (

    select
        *,
        -- computed here, guarded, because the join below is evaluated outside the case that checks
        -- the JSON first
        case
            when json_valid(call_json) and json_type(call_json) = 'OBJECT' then call_json ->> 'name'
        end as called_tool
    from tool_calls_decoded

),

tool_calls_declared as (

    select
        tool_calls_named.*,
        declared_tools.tool_name is not null as is_declared
    from tool_calls_named
    left join declared_tools
        on
            tool_calls_named.tools_key = declared_tools.tools_key
            and tool_calls_named.called_tool = declared_tools.tool_name

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
                and is_declared,
                false
            ) then 'a tool_call is not {name, arguments} with an object and a tool its source declares: ' || left(call_json, 120)
        end as problem
    from tool_calls_declared

)

select * from tool_calls_checked
where problem is not null

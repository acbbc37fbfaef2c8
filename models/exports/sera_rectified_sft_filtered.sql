-- one row per trajectory of the SFT export: the rows of the main export (same filter vars, same
-- order) in OpenAI chat format, with the tool schemas as a `tools` column, the dataset and the token
-- count. `messages` and `tools` are JSON (Parquet's JSON type), which `datasets` decodes to Python
-- values with the Json features the export writes beside them (sera_rectify.sft.SFT_FEATURES)

{%- set conditions = export_conditions() %}

with

converted as (

    select * from {{ ref('sera_rectified_sft') }}

),

tools as (

    select * from {{ ref('stg_spec__tools') }}

),

tool_list as (

    -- tools.json's list as json.dumps writes it: the schemas joined by ", " inside brackets
    select '[' || string_agg(tool_schema, ', ' order by tool_position) || ']' as tools
    from tools

),

filtered as (

    -- every field optional, as in sera_rectified_filtered
    select
        if(messages is null, null, messages)::json as messages,
        (select tool_list.tools from tool_list)::json as tools,
        if(instance_id is null, null, instance_id) as instance_id,
        if(teacher is null, null, teacher) as teacher,
        if(scale is null, null, scale) as scale,
        if(rollout is null, null, rollout) as rollout,
        if(func_name is null, null, func_name) as func_name,
        if(func_path is null, null, func_path) as func_path,
        if(line_level_recall is null, null, line_level_recall) as line_level_recall,
        if(source_dataset is null, null, source_dataset) as source_dataset,
        if(n_tokens is null, null, n_tokens) as n_tokens
    from converted
    where {{ conditions | join('\n        and ') if conditions else 'true' }}

)

select * from filtered

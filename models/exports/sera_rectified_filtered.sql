-- one row per trajectory of the main export: the 8 columns of spec/output.md in their order, the
-- converted rows the filter vars keep (macros/selection_vars.sql), in source order

{%- set conditions = export_conditions() %}

with

converted as (

    select * from {{ ref('sera_rectified') }}

),

filtered as (

    -- DuckDB writes a column that holds no null as `required`; if(x is null, null, x) keeps every
    -- field optional without changing a value, so the file's schema never depends on the data
    select
        if(messages is null, null, messages) as messages,
        if(instance_id is null, null, instance_id) as instance_id,
        if(teacher is null, null, teacher) as teacher,
        if(scale is null, null, scale) as scale,
        if(rollout is null, null, rollout) as rollout,
        if(func_name is null, null, func_name) as func_name,
        if(func_path is null, null, func_path) as func_path,
        if(line_level_recall is null, null, line_level_recall) as line_level_recall
    from converted
    where {{ conditions | join('\n        and ') if conditions else 'true' }}

)

select * from filtered

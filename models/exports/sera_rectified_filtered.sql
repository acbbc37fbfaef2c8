-- one row per trajectory of the main export: the 8 columns of spec/output.md in their order, the
-- converted rows the filter vars keep (macros/selection_vars.sql), in source order

{%- set conditions = export_conditions() %}

with

converted as (

    select * from {{ ref('sera_rectified') }}

),

filtered as (

    -- every column an optional Parquet field (macros/export_columns.sql)
    select
        {{ nullable('messages') }},
        {{ nullable('instance_id') }},
        {{ nullable('teacher') }},
        {{ nullable('scale') }},
        {{ nullable('rollout') }},
        {{ nullable('func_name') }},
        {{ nullable('func_path') }},
        {{ nullable('line_level_recall') }}
    from converted
    where {{ conditions | join('\n        and ') if conditions else 'true' }}

)

select * from filtered

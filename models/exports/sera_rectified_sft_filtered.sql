-- one row per trajectory of the SFT export: the rows of the main export (same filter vars, same
-- order) in OpenAI chat format, with the row's tool schemas as a `tools` column (its source's own:
-- docs/formats.md), the dataset and the token count. `messages` and `tools` are JSON (Parquet's JSON
-- type), which `datasets` decodes to Python values with the Json features the export writes beside
-- them (sera_rectify.sft.SFT_FEATURES)

{%- set conditions = export_conditions() %}

with

converted as (

    select * from {{ ref('sera_rectified_sft') }}

),

filtered as (

    -- every column an optional Parquet field (macros/export_columns.sql)
    select
        {{ nullable('messages', 'json') }},
        {{ nullable('tools', 'json') }},
        {{ nullable('instance_id') }},
        {{ nullable('teacher') }},
        {{ nullable('scale') }},
        {{ nullable('rollout') }},
        {{ nullable('func_name') }},
        {{ nullable('func_path') }},
        {{ nullable('line_level_recall') }},
        {{ nullable('source_dataset') }},
        {{ nullable('n_tokens') }},
        {{ nullable('flags') }}
    from converted
    where {{ conditions | join('\n        and ') if conditions else 'true' }}

)

select * from filtered

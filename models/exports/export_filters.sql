-- one row: the filters both exports apply, as the SQL condition they are written with (null: none).
-- The conditions come from the vars teacher, scale, rollout, min_recall (macros/selection_vars.sql).

-- depends_on: {{ ref('stg_sera__datasets') }} (the filters are checked against the selected datasets)

{%- set conditions = export_conditions() %}

with

filters as (

    select
        {{ sql_string(conditions | join(' and ')) if conditions else 'cast(null as varchar)' }} as filters

)

select * from filters

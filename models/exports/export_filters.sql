-- one row: the filters both exports apply, as the SQL condition they are written with (null: none),
-- and the filter vars themselves (macros/selection_vars.sql checks them against the selected datasets)
-- depends_on: {{ ref('stg_sera__datasets') }}

{%- set conditions = export_conditions() %}

with

filters as (

    select
        {{ sql_string(conditions | join(' and ')) if conditions else 'cast(null as varchar)' }} as filters,
        cast({{ var('max_tokens') or 'null' }} as integer) as max_tokens

)

select * from filters

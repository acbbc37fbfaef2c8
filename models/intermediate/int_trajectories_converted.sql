-- one row per source row: the Parquet parts written by int_conversion_parts, read in part-number
-- order (DuckDB sorts the glob), which is source order (datasets, files, rows)
-- depends_on: {{ ref('int_conversion_parts') }}

{{ config(materialized='view') }}

{%- set parts = load_relation(ref('int_conversion_parts')) if execute else none %}
{%- if parts is not none %}
    {%- set parts_dir = run_query(
        "select any_value(regexp_replace(part_path, '/[^/]*$', '')) from " ~ parts
    ).columns[0].values()[0] %}
{%- endif %}

with

converted as (

    select * from read_parquet('{{ parts_dir }}/part-*.parquet')

)

select * from converted

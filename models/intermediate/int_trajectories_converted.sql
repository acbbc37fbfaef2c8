-- one row per source row: the Parquet parts written by int_conversion_parts, read in part-number
-- order (DuckDB sorts the glob), which is source order (datasets, files, rows)
-- depends_on: {{ ref('int_conversion_parts') }}

{{ config(materialized='view') }}

{#- the folder of the parts, as the conversion wrote it (an absolute path); only known once it ran -#}
{%- set parts_dir = '' %}
{%- if execute %}
    {%- set parts_dir = run_query(
        "select any_value(regexp_replace(part_path, '/[^/]*$', '')) from " ~ ref('int_conversion_parts')
    ).columns[0].values()[0] %}
{%- endif %}

with

converted as (

    select * from read_parquet('{{ parts_dir }}/part-*.parquet')

)

select * from converted

-- one row per source row: the Parquet parts written by int_conversion_parts, read in name order
-- (DuckDB sorts the glob), which is source order (datasets, files, rows). A conversion task numbers its
-- rows from its chunk's start (it reads a byte range of a file and cannot know the rows before it):
-- adding the chunk's first row, from the parts manifest, gives the row's index in its file.
-- depends_on: {{ ref('int_conversion_parts') }}

{{ config(materialized='view') }}

{#- the folder of the parts as the conversion wrote it (an absolute path or an object storage URI), and
    each chunk's first row in its file, by chunk number: only known once the conversion ran -#}
{%- set parts_dir = '' %}
{%- set chunk_first_rows = '[]' %}
{%- if execute %}
    {%- set manifest = run_query(
        "select any_value(regexp_replace(part_path, '/[^/]*$', '')), "
        ~ "cast(list(first_source_row order by part_number) filter (where first_part_of_chunk) as varchar) "
        ~ "from (select *, part_number = min(part_number) over (partition by chunk_number) as first_part_of_chunk "
        ~ "from " ~ ref('int_conversion_parts') ~ ")"
    ) %}
    {%- set parts_dir = manifest.columns[0].values()[0] %}
    {%- set chunk_first_rows = manifest.columns[1].values()[0] or '[]' %}
{%- endif %}

with

parts as (

    select * from read_parquet('{{ parts_dir }}/part-*.parquet')

),

converted as (

    select
        * exclude (chunk_number)
        replace (source_row + ({{ chunk_first_rows }}::bigint[])[chunk_number + 1] as source_row)
    from parts

)

select * from converted

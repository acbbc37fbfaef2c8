-- one row per source row: the Parquet parts written by int_conversion_parts, read in name order
-- (DuckDB sorts the glob), which is source order (datasets, files, rows). A conversion task numbers its
-- rows from its chunk's start (it reads a byte range of a file and cannot know the rows before it):
-- adding the chunk's first row, from the parts manifest, gives the row's index in its file.
-- depends_on: {{ ref('int_conversion_parts') }}

{{ config(materialized='view') }}

{#- the folder of the parts as the conversion wrote it (an absolute path or an object storage URI), and
    the first row in its file of each chunk that does not start its file (a later byte range of a JSON
    Lines or Parquet file), by chunk number: only known once the conversion ran. The map holds only those
    chunks, so it stays small when a dataset is thousands of one-chunk files -#}
{%- set parts_dir = '' %}
{%- set offset_chunks, offset_rows = '[]', '[]' %}
{%- if execute %}
    {%- set manifest = run_query(
        "select any_value(regexp_replace(part_path, '/[^/]*$', '')), "
        ~ "coalesce(cast(list(chunk_number order by chunk_number) filter (where later_chunk) as varchar), '[]'), "
        ~ "coalesce(cast(list(first_source_row order by chunk_number) filter (where later_chunk) as varchar), '[]') "
        ~ "from (select *, first_source_row > 0 and part_number = min(part_number) over (partition by chunk_number) "
        ~ "as later_chunk from " ~ ref('int_conversion_parts') ~ ")"
    ) %}
    {%- set parts_dir = manifest.columns[0].values()[0] %}
    {%- set offset_chunks = manifest.columns[1].values()[0] %}
    {%- set offset_rows = manifest.columns[2].values()[0] %}
{%- endif %}

with

parts as (

    select * from read_parquet('{{ parts_dir }}/part-*.parquet')

),

converted as (

    select
        * exclude (chunk_number)
        replace (source_row + coalesce(map({{ offset_chunks }}::bigint[], {{ offset_rows }}::bigint[])[chunk_number], 0) as source_row)
    from parts

)

select * from converted

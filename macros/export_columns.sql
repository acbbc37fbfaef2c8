{#- The columns of the export views (models/exports/*_filtered.sql). -#}

{% macro nullable(column, type=none) -%}
    {#- An export column as an optional Parquet field: DuckDB writes a column that holds no null as
        `required`, so the file's schema would depend on the data (spec/output.md: every column
        nullable). if(x is null, null, x) changes no value; `type` casts it (json: Parquet's JSON type). -#}
    {%- if type -%}
    cast(if({{ column }} is null, null, {{ column }}) as {{ type }}) as {{ column }}
    {%- else -%}
    if({{ column }} is null, null, {{ column }}) as {{ column }}
    {%- endif -%}
{%- endmacro %}

{#- spec/interface.md: SERA_THREADS caps DuckDB's threads (and the conversion's worker processes);
    unset, DuckDB uses every core. -#}
{% macro set_duckdb_threads() %}
    {%- if env_var('SERA_THREADS', '') -%}
        set threads = {{ env_var('SERA_THREADS') | int }}
    {%- else -%}
        select 1
    {%- endif -%}
{% endmacro %}

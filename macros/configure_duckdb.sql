{#- Run once at the start of every dbt invocation (on-run-start), not per connection:
    - SERA_THREADS caps DuckDB's threads (and the conversion's worker processes); unset, DuckDB
      uses every core (spec/interface.md).
    - SERA_TEMP_DIR is where DuckDB spills when over SERA_MEMORY_LIMIT. It cannot live in the
      profile's `settings`: dbt-duckdb re-applies those on every new cursor, and DuckDB refuses to
      set temp_directory again once it has spilled ("Cannot switch temporary directory"). -#}
{% macro configure_duckdb() %}
    set temp_directory = '{{ env_var("SERA_TEMP_DIR", "target/duckdb_spill") }}';
    {%- if env_var('SERA_THREADS', '') %}
    set threads = {{ env_var('SERA_THREADS') | int }};
    {%- endif %}
{% endmacro %}

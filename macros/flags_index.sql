{#- The flag codes of a converted row, looked up in the one-row hash table int_trajectory_flags_indexed
    (why not a join: that model's header). -#}

{% macro flag_bucket(relation, n_buckets) -%}
    {#- the 0-based bucket of a row of `relation` (its key: source_dataset, source_file, source_row) -#}
    cast(hash({{ relation }}.source_dataset, {{ relation }}.source_file, {{ relation }}.source_row) % {{ n_buckets }} as bigint)
{%- endmacro %}


{% macro flags_of(relation, index) -%}
    {#- the flags of the row of `relation`, from the one row of `index`: its bucket's entry with the same
        key, or [] when the row carries no flag -#}
    coalesce(
        list_filter(
            {{ index }}.flag_buckets[{{ flag_bucket(relation, index ~ '.n_buckets') }} + 1],
            lambda entry: entry.source_dataset = {{ relation }}.source_dataset
            and entry.source_file = {{ relation }}.source_file
            and entry.source_row = {{ relation }}.source_row
        )[1].flags,
        cast([] as varchar[])
    )
{%- endmacro %}

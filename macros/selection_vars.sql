{#- The dbt vars that choose what is built and what is exported, checked in one place.

    check_vars() runs when stg_sera__datasets compiles (every other model depends on it, so a bad value
    stops the build before any file is read) and again inside export_conditions() (so an export run on
    its own with `dbt run --select` is checked too). A bad value stops dbt with one line naming the
    var, the value and the valid values; nothing is written.

    The declared values come from the sera_datasets seed (the datasets selected by the `datasets` var)
    and from the `traj_dirs` var. -#}

{% macro as_list(value) %}
    {%- if value is none -%}
        {{ return([]) }}
    {%- elif value is string or value is number -%}
        {{ return([value]) }}
    {%- else -%}
        {{ return(value | list) }}
    {%- endif -%}
{% endmacro %}


{% macro seed_datasets() %}
    {#- The rows of the sera_datasets seed: dataset, teacher, scale, rollout. -#}
    {%- set seed = ref('sera_datasets') -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- if load_relation(seed) is none -%}
        {{ exceptions.raise_compiler_error(
            "the seed sera_datasets is not in " ~ target.path ~ " yet: run `dbt seed` first, or `dbt build`, which runs it.") }}
    {%- endif -%}
    {%- set result = run_query("select dataset, teacher, scale, rollout from " ~ seed ~ " order by dataset_order") -%}
    {{ return(result.rows) }}
{% endmacro %}


{% macro selected_dataset_names() %}
    {#- The `datasets` var as a list; null (the default) means every dataset of the seed, [] none of
        them (a build of `traj_dirs` folders only). -#}
    {%- if var('datasets') is none -%}
        {{ return(seed_datasets() | map(attribute='dataset') | list) }}
    {%- endif -%}
    {{ return(as_list(var('datasets'))) }}
{% endmacro %}


{% macro fail_var(name, value, valid) %}
    {{ exceptions.raise_compiler_error(
        "var " ~ name ~ " = " ~ tojson(value) ~ " is not valid. Valid values: " ~ valid
        ~ ". Set it with --vars '{" ~ name ~ ": ...}', or leave it unset.") }}
{% endmacro %}


{% macro check_choice(name, valid_values) %}
    {%- for value in as_list(var(name)) -%}
        {%- if value not in valid_values -%}
            {{ fail_var(name, value, valid_values | join(', ')
                ~ ' (the ' ~ name ~ ' values of the selected datasets ' ~ selected_dataset_names() | join(', ') ~ ')') }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}


{% macro check_vars() %}
    {#- the ref outside the execute guard: dbt records the seed as a dependency of the calling model -#}
    {%- set seed = ref('sera_datasets') -%}
    {%- if execute -%}
        {%- set seed_rows = seed_datasets() -%}
        {%- set published = seed_rows | map(attribute='dataset') | list -%}
        {%- for name in as_list(var('datasets')) -%}
            {%- if name not in published -%}
                {{ fail_var('datasets', name, published | join(', ') ~ ' (seeds/sera_datasets.csv)') }}
            {%- endif -%}
        {%- endfor -%}

        {%- set names = selected_dataset_names() -%}
        {%- set selected = seed_rows | selectattr('dataset', 'in', names) | list
            + (var('traj_dirs') or {}).values() | list -%}
        {%- for column in ['teacher', 'scale', 'rollout'] -%}
            {{ check_choice(column, selected | map(attribute=column) | reject('none') | unique | sort | list) }}
        {%- endfor -%}

        {%- set min_recall = var('min_recall') -%}
        {%- if min_recall is not none and (min_recall is boolean or min_recall is not number or min_recall < 0 or min_recall > 1) -%}
            {{ fail_var('min_recall', min_recall, 'a number from 0 to 1, e.g. 0.75') }}
        {%- endif -%}

        {%- if var('allow_empty_export') is not boolean -%}
            {{ fail_var('allow_empty_export', var('allow_empty_export'), 'true or false') }}
        {%- endif -%}

        {%- for name in ['tokenizer', 'chat_template'] -%}
            {%- if var(name) is not none and (var(name) is not string or not var(name)) -%}
                {{ fail_var(name, var(name), 'a local folder or file path' ~ (', or a Hub model id' if name == 'tokenizer' else '')) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if var('chat_template') is not none and var('tokenizer') is none -%}
            {{ fail_var('chat_template', var('chat_template'), 'a template for the tokenizer var, which is not set: set tokenizer too') }}
        {%- endif -%}
        {%- set max_tokens = var('max_tokens') -%}
        {%- if max_tokens is not none -%}
            {%- if max_tokens is boolean or max_tokens is not integer or max_tokens <= 0 -%}
                {{ fail_var('max_tokens', max_tokens, 'a whole number of tokens above 0, e.g. 32768') }}
            {%- elif var('tokenizer') is none -%}
                {{ fail_var('max_tokens', max_tokens,
                    'a budget for a tokenizer, and the tokenizer var is not set: set tokenizer (a local folder or a Hub model id)') }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{% macro sql_string(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{% macro export_conditions() %}
    {#- The WHERE conditions both exports apply (vars teacher, scale, rollout, min_recall, max_tokens),
        as a list of SQL texts; empty when no filter var is set. A later filter is one more `if` here. -#}
    {{ check_vars() }}
    {%- set conditions = [] -%}
    {%- for column in ['teacher', 'scale', 'rollout'] -%}
        {%- set values = as_list(var(column)) -%}
        {%- if values | length == 1 -%}
            {%- do conditions.append(column ~ ' = ' ~ sql_string(values[0])) -%}
        {%- elif values -%}
            {%- set literals = [] -%}
            {%- for value in values -%}{%- do literals.append(sql_string(value)) -%}{%- endfor -%}
            {%- do conditions.append(column ~ ' in (' ~ literals | join(', ') ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if var('min_recall') is not none -%}
        {%- do conditions.append('line_level_recall >= ' ~ var('min_recall') | float) -%}
    {%- endif -%}
    {%- if var('max_tokens') is not none -%}
        {%- do conditions.append('n_tokens <= ' ~ var('max_tokens')) -%}
    {%- endif -%}
    {{ return(conditions) }}
{% endmacro %}

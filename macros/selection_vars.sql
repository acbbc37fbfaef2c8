{#- The dbt vars that choose what is built and what is exported, checked in one place.

    check_vars() runs when stg_sera__datasets compiles (every other model depends on it, so a bad value
    stops the build before any file is read) and again inside export_conditions() (so an export run on
    its own with `dbt run --select` is checked too). A bad value stops dbt with one line naming the
    var, the value and the valid values; nothing is written.

    The declared values come from the sera_datasets seed (the datasets selected by the `datasets` var)
    and from the `traj_dirs` var; the flag codes of `exclude_flags` from stg_spec__flags (docs/flags.md). -#}

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


{% macro check_traj_dirs() %}
    {#- Each traj_dirs entry is {path: ..., format: ..., teacher: ..., scale: ..., rollout: ..., license: ...,
        attribution: ...} with a path; the format's name is checked with the files (formats.py). -#}
    {%- set keys = ['path', 'format', 'teacher', 'scale', 'rollout', 'license', 'attribution'] -%}
    {%- for name, entry in (var('traj_dirs') or {}).items() -%}
        {%- if entry is not mapping or entry.get('path') is not string -%}
            {{ fail_var('traj_dirs', {name: entry}, 'a mapping of dataset names to {path: <folder>, ...} (docs/usage.md)') }}
        {%- endif -%}
        {%- for key in entry if key not in keys -%}
            {{ fail_var('traj_dirs', {name: entry}, 'entries with the keys ' ~ keys | join(', ') ~ ' (unknown key ' ~ key ~ ')') }}
        {%- endfor -%}
    {%- endfor -%}
{% endmacro %}


{% macro check_vars() %}
    {#- the refs outside the execute guard: dbt records the seed and the flag codes as dependencies of
        the calling model -#}
    {%- set seed = ref('sera_datasets') -%}
    {%- set flag_table = ref('stg_spec__flags') -%}
    {%- if execute -%}
        {%- set seed_rows = seed_datasets() -%}
        {%- set published = seed_rows | map(attribute='dataset') | list -%}
        {%- for name in as_list(var('datasets')) -%}
            {%- if name not in published -%}
                {{ fail_var('datasets', name, published | join(', ') ~ ' (seeds/sera_datasets.csv)') }}
            {%- endif -%}
        {%- endfor -%}

        {{ check_traj_dirs() }}
        {%- set names = selected_dataset_names() -%}
        {%- set traj_dirs = (var('traj_dirs') or {}).values() | list -%}
        {%- set selected = seed_rows | selectattr('dataset', 'in', names) | list + traj_dirs -%}
        {#- rows of a format other than sera may name their own teacher (docs/formats.md): then the
            teacher values are not known before the build, and a value no row has is caught by the
            export instead (an empty export is an error that keeps the previous file) -#}
        {%- set row_teachers = traj_dirs | rejectattr('format', 'undefined') | rejectattr('format', 'equalto', 'sera') | list -%}
        {%- for column in ['scale', 'rollout'] + ([] if row_teachers else ['teacher']) -%}
            {{ check_choice(column, selected | map(attribute=column) | reject('undefined') | reject('none') | unique | sort | list) }}
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

        {#- the same resolution as int_conversion_parts' engine config (_intermediate__models.yml) -#}
        {%- set engine = var('engine') or env_var('SERA_ENGINE', '') or 'local' -%}
        {%- if engine not in ['local', 'ray'] -%}
            {{ fail_var('engine', engine, 'local or ray (the env SERA_ENGINE applies when the var is not given)') }}
        {%- endif -%}

        {{ check_flag_vars(flag_table) }}
    {%- endif -%}
{% endmacro %}


{% macro check_flag_vars(flag_table) %}
    {#- benchmark, benchmark_split and exclude_flags (docs/flags.md). The known codes are the rows of
        stg_spec__flags (python/sera_rectify/flags.py); a benchmark code needs the benchmark var. Whether
        the benchmark itself can be read is stg_benchmark__instances' check, also before any work. -#}
    {%- for name in ['benchmark', 'benchmark_split'] -%}
        {%- if (var(name) is not none or name == 'benchmark_split') and (var(name) is not string or not var(name)) -%}
            {{ fail_var(name, var(name), 'a local Parquet or JSON Lines file, or a Hub dataset id, e.g. princeton-nlp/SWE-bench_Verified'
                if name == 'benchmark' else 'the split of the Hub benchmark, e.g. test') }}
        {%- endif -%}
    {%- endfor -%}
    {%- if load_relation(flag_table) is none -%}
        {{ exceptions.raise_compiler_error(
            "the model stg_spec__flags is not in " ~ target.path ~ " yet: run `dbt build`, which builds it first.") }}
    {%- endif -%}
    {%- set flags = run_query("select flag, needs_benchmark from " ~ flag_table ~ " order by flag_position").rows -%}
    {%- set known = flags | map(attribute='flag') | list -%}
    {%- set benchmark_flags = flags | selectattr('needs_benchmark') | map(attribute='flag') | list -%}
    {%- for flag in as_list(var('exclude_flags')) -%}
        {%- if flag not in known -%}
            {{ fail_var('exclude_flags', flag, known | join(', ') ~ ' (docs/flags.md)') }}
        {%- elif flag in benchmark_flags and var('benchmark') is none -%}
            {{ fail_var('exclude_flags', flag,
                'a code this build sets; ' ~ benchmark_flags | join(' and ')
                ~ ' need the benchmark var, which is not set: set benchmark (a SWE-bench-layout file or Hub dataset id)') }}
        {%- endif -%}
    {%- endfor -%}
{% endmacro %}


{% macro sql_string(value) -%}
    {#- A SQL string literal of value; null for none (an undeclared key of a traj_dirs entry). -#}
    {%- if value is none -%}
        cast(null as varchar)
    {%- else -%}
        '{{ value | string | replace("'", "''") }}'
    {%- endif -%}
{%- endmacro %}


{% macro export_conditions() %}
    {#- The WHERE conditions both exports apply (vars teacher, scale, rollout, min_recall, max_tokens, exclude_flags),
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
    {%- set excluded = as_list(var('exclude_flags')) -%}
    {%- if excluded -%}
        {%- set literals = [] -%}
        {%- for flag in excluded -%}{%- do literals.append(sql_string(flag)) -%}{%- endfor -%}
        {%- do conditions.append('not list_has_any(flags, [' ~ literals | join(', ') ~ '])') -%}
    {%- endif -%}
    {{ return(conditions) }}
{% endmacro %}

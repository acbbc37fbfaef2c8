{#- Generic tests beyond dbt's built-in four (dbt deps cannot reach the package hub here).
    Each returns the failing rows; zero rows passes. -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}

with

grouped as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}

)

select * from grouped
where n_rows > 1

{% endtest %}


{% test expression_is_true(model, expression, column_name=none) %}

select * from {{ model }}
where not coalesce(({{ expression }}), false)

{% endtest %}


{% test matches_dataset_declaration(model, column_name, rows_may_name_it=false) %}
{#- Each row's column holds what its dataset declares in stg_sera__datasets (the seed for SERA, the
    traj_dirs entry otherwise; both may be null for a traj_dirs entry). With rows_may_name_it, a row of
    a format other than sera may carry its own non-null value instead (a teacher named by the row's
    model column: docs/formats.md). -#}

with

checked_rows as (

    select
        source_dataset,
        {{ column_name }} as row_value
    from {{ model }}

),

declarations as (

    select
        source_dataset,
        source_format,
        {{ column_name }} as declared_value
    from {{ ref('stg_sera__datasets') }}

),

mismatches as (

    select
        checked_rows.source_dataset,
        checked_rows.row_value,
        declarations.declared_value,
        count(*) as n_rows
    from checked_rows
    left join declarations on checked_rows.source_dataset = declarations.source_dataset
    where
        checked_rows.row_value is distinct from declarations.declared_value
        {%- if rows_may_name_it %}
        and not (declarations.source_format <> 'sera' and checked_rows.row_value is not null)
        {%- endif %}
    group by all

)

select * from mismatches

{% endtest %}

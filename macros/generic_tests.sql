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

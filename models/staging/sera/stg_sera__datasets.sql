-- one row per source dataset selected by the `datasets` var, with its teacher, scale and rollout

with

source as (

    select * from {{ ref('sera_datasets') }}

),

selected as (

    select
        dataset as source_dataset,
        dataset_order,
        teacher,
        scale,
        rollout,
        published_rows,
        hub_repo_id
    from source
    where dataset in (
        {%- for dataset in var('datasets') %}
        '{{ dataset }}'{{ ',' if not loop.last }}
        {%- endfor %}
    )

)

select * from selected

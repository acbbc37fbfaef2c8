-- one row per dataset to build: the SERA datasets selected by the `datasets` var (from the
-- sera_datasets seed, under sources_dir) and any SWE-agent trajectory folders of the `traj_dirs` var.
-- Every model depends on this one: the vars are checked here (macros/selection_vars.sql), before any
-- file is read.

{{ check_vars() }}

with

source as (

    select * from {{ ref('sera_datasets') }}

),

sera_datasets as (

    select
        dataset as source_dataset,
        dataset_order,
        teacher,
        scale,
        rollout,
        published_rows,
        hub_repo_id,
        '{{ var("sources_dir") }}/' || dataset as dataset_dir,
        'sera' as source_kind
    from source
    where dataset in (
        {%- for dataset in selected_dataset_names() %}
        '{{ dataset }}'{{ ',' if not loop.last }}
        {%- else %}
            null
        {%- endfor %}
    )

),

traj_datasets as (

    {%- set traj_dirs = var('traj_dirs') or {} %}
    {%- for name, folder in traj_dirs.items() %}
    select
        '{{ name }}' as source_dataset,
        {{ 100 + loop.index }} as dataset_order,
        '{{ folder.teacher }}' as teacher,
        '{{ folder.scale }}' as scale,
        '{{ folder.rollout }}' as rollout,
        cast(null as bigint) as published_rows,
        cast(null as varchar) as hub_repo_id,
        '{{ folder.path }}' as dataset_dir,
        'traj' as source_kind
    {{ 'union all' if not loop.last }}
    {%- else %}
        select * from sera_datasets
        where false
    {%- endfor %}

),

unioned as (

    select * from sera_datasets
    union all
    select * from traj_datasets

)

select * from unioned

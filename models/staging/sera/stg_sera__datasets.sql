-- one row per dataset to build: the SERA datasets selected by the `datasets` var (from the
-- sera_datasets seed, under sources_dir) and the folders of the `traj_dirs` var (SWE-agent .traj files or
-- rows of another source format: docs/formats.md). Every model depends on this one: the vars are checked
-- here (macros/selection_vars.sql), before any file is read.

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
        'sera' as source_kind,
        'sera' as source_format,
        'ODC-By-1.0' as license,
        'Allen Institute for AI (SERA, Open Coding Agents)' as attribution
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
        {{ sql_string(name) }} as source_dataset,
        {{ 100 + loop.index }} as dataset_order,
        {{ sql_string(folder.get('teacher')) }} as teacher,
        {{ sql_string(folder.get('scale')) }} as scale,
        {{ sql_string(folder.get('rollout')) }} as rollout,
        cast(null as bigint) as published_rows,
        cast(null as varchar) as hub_repo_id,
        {{ sql_string(folder.get('path')) }} as dataset_dir,
        'traj' as source_kind,
        {{ sql_string(folder.get('format', 'sera')) }} as source_format,
        {{ sql_string(folder.get('license')) }} as license,
        {{ sql_string(folder.get('attribution')) }} as attribution
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

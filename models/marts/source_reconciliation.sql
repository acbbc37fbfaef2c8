-- one row per source dataset: rows the conversion's tasks read from the files (counted as they read,
-- per part: int_conversion_parts) = rows converted + rows rejected, with the dataset's attributes
-- (order, Hub repository, teacher, scale, rollout, format, license, attribution) the dataset card quotes

with

datasets as (

    select * from {{ ref('stg_sera__datasets') }}

),

source_files as (

    select * from {{ ref('stg_sera__source_files') }}

),

parts as (

    select * from {{ ref('int_conversion_parts') }}

),

converted as (

    select * from {{ ref('sera_rectified') }}

),

rejects as (

    select * from {{ ref('sera_rectified_rejects') }}

),

files_listed as (

    select
        source_dataset,
        count(*) as n_files
    from source_files
    group by source_dataset

),

rows_read as (

    select
        files_listed.source_dataset,
        files_listed.n_files,
        coalesce(cast(sum(parts.n_rows) as bigint), 0) as rows_read
    from files_listed
    left join parts
        on files_listed.source_dataset = parts.source_dataset
    group by files_listed.source_dataset, files_listed.n_files

),

rows_out as (

    select
        source_dataset,
        count(*) as rows_out
    from converted
    group by source_dataset

),

rows_rejected as (

    select
        source_dataset,
        count(*) as rows_rejected
    from rejects
    group by source_dataset

),

reconciled as (

    select
        rows_read.source_dataset,
        rows_read.n_files,
        rows_read.rows_read,
        coalesce(rows_out.rows_out, 0) as rows_out,
        coalesce(rows_rejected.rows_rejected, 0) as rows_rejected,
        datasets.dataset_order,
        datasets.hub_repo_id,
        datasets.teacher,
        datasets.scale,
        datasets.rollout,
        datasets.source_format,
        datasets.license,
        datasets.attribution
    from rows_read
    left join rows_out
        on rows_read.source_dataset = rows_out.source_dataset
    left join rows_rejected
        on rows_read.source_dataset = rows_rejected.source_dataset
    inner join datasets
        on rows_read.source_dataset = datasets.source_dataset

)

select * from reconciled

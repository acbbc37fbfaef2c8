{{ config(severity='warn') }}

-- spec/sources.md: instance_id is not a key (rows are keyed by dataset, file, line), so a dataset
-- may repeat one. Such rows are kept, every one of them converted; this test only reports each
-- (source_dataset, instance_id) pair that occurs more than once, as a warning (the build exits 0).
-- Ids shared across datasets (T2 reuses T1's ids) are expected and not reported.

with

converted as (

    select * from {{ ref('sera_rectified') }}

),

duplicated as (

    select
        source_dataset,
        instance_id,
        count(*) as n_rows
    from converted
    where instance_id is not null
    group by source_dataset, instance_id
    having count(*) > 1

)

select * from duplicated

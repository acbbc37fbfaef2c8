-- one row: the flag codes of every flagged trajectory (int_trajectories_flagged) as a hash table in one
-- value, which the marts read with flags_of() (macros/flags_index.sql). A join would give the same
-- codes, but DuckDB may build its hash table on either side and reorder the rows; the exports write the
-- marts' rows in source order without sorting them, so the marts look the codes up in this one row
-- (a cross product with one row streams the other side in order).

with

flagged as (

    select * from {{ ref('int_trajectories_flagged') }}

),

flagged_rows as (

    select *
    from flagged
    where len(flags) > 0

),

sized as (

    -- one bucket per flagged row (and one more, so an empty table has a bucket): ~1 entry per bucket
    select count(*) + 1 as n_buckets
    from flagged_rows

),

bucketed as (

    select
        {{ flag_bucket('flagged_rows', '(select sized.n_buckets from sized)') }} as bucket,
        list({
            'source_dataset': flagged_rows.source_dataset,
            'source_file': flagged_rows.source_file,
            'source_row': flagged_rows.source_row,
            'flags': flagged_rows.flags
        }) as entries
    from flagged_rows
    group by bucket

),

buckets as (

    select
        list(bucketed.entries order by bucket_numbers.bucket) as flag_buckets,
        count(*) as n_buckets
    from range((select sized.n_buckets from sized)) as bucket_numbers (bucket)
    left join bucketed
        on bucket_numbers.bucket = bucketed.bucket

)

select * from buckets

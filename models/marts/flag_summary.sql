-- one row per (dataset, flag code), plus a total row per code (is_total): how many converted rows carry
-- the flag (0 when none does), with the code's meaning; the dataset card's table of flags

with

flagged as (

    select * from {{ ref('int_trajectories_flagged') }}

),

flag_codes as (

    select * from {{ ref('stg_spec__flags') }}

),

datasets as (

    select * from {{ ref('stg_sera__datasets') }}

),

benchmark as (

    select * from {{ ref('stg_benchmark__instances') }}

),

row_flags as (

    select
        source_dataset,
        unnest(flags) as flag
    from flagged

),

counted as (

    select
        source_dataset,
        flag,
        count(*) as n_rows
    from row_flags
    group by source_dataset, flag

),

per_dataset as (

    select
        datasets.source_dataset,
        datasets.dataset_order,
        flag_codes.flag,
        flag_codes.flag_position,
        flag_codes.needs_benchmark,
        flag_codes.meaning,
        coalesce(counted.n_rows, 0) as n_rows
    from datasets
    cross join flag_codes
    left join counted
        on
            datasets.source_dataset = counted.source_dataset
            and flag_codes.flag = counted.flag

),

with_totals as (

    select
        source_dataset,
        dataset_order,
        flag,
        flag_position,
        needs_benchmark,
        meaning,
        grouping(source_dataset, dataset_order) = 3 as is_total,
        cast(sum(n_rows) as bigint) as n_rows
    from per_dataset
    group by grouping sets (
        (source_dataset, dataset_order, flag, flag_position, needs_benchmark, meaning),
        (flag, flag_position, needs_benchmark, meaning)
    )

),

with_benchmark as (

    -- the benchmark the benchmark codes were checked against (var benchmark); null: they were not
    select
        *,
        {{ sql_string(var('benchmark')) }} as benchmark,
        (select count(*) from benchmark) as n_benchmark_tasks
    from with_totals

)

select * from with_benchmark

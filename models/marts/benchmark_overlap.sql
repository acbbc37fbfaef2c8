-- one row per (converted trajectory, benchmark task) whose task text and problem statement share a
-- 13-gram (the rows flagged benchmark_text): which benchmark instance each one overlaps, for inspection

with

text_overlaps as (

    select * from {{ ref('int_benchmark_overlaps') }}

),

benchmark as (

    select * from {{ ref('stg_benchmark__instances') }}

),

described as (

    select
        text_overlaps.source_dataset,
        text_overlaps.source_file,
        text_overlaps.source_row,
        text_overlaps.instance_id,
        text_overlaps.benchmark_instance_id,
        benchmark.repo as benchmark_repo,
        text_overlaps.n_shared_ngrams
    from text_overlaps
    left join benchmark
        on text_overlaps.benchmark_instance_id = benchmark.instance_id

)

select * from described

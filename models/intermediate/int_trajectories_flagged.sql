-- one row per converted trajectory: its `flags` (docs/flags.md), the codes of stg_spec__flags in their
-- order: the benchmark's (repository, shared 13-gram), the later copies of identical messages, the
-- source's own verdict and the format adapters' counters, then the scaffold artefacts the conversion
-- found in the row (artefact_flags, python/sera_rectify/flags.py). A small table the marts join by key.

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

benchmark as (

    select * from {{ ref('stg_benchmark__instances') }}

),

text_overlaps as (

    select * from {{ ref('int_benchmark_overlaps') }}

),

accepted as (

    select
        source_dataset,
        source_file,
        source_row,
        dataset_order,
        repo,
        resolved,
        n_dropped_nudges,
        n_dropped_format_errors,
        artefact_flags,
        -- exact duplicates: same text (a 64-bit hash and the length; a collision among 211k rows is
        -- ~1e-9 likely)
        hash(messages) as messages_hash,
        n_chars
    from converted
    where reject_reason is null

),

benchmark_repos as (

    select distinct lower(repo) as repo
    from benchmark

),

overlapping_rows as (

    select distinct
        source_dataset,
        source_file,
        source_row
    from text_overlaps

),

with_copy_number as (

    select
        accepted.*,
        benchmark_repos.repo is not null as is_benchmark_repo,
        overlapping_rows.source_row is not null as overlaps_benchmark_text,
        row_number() over (
            partition by accepted.messages_hash, accepted.n_chars
            order by accepted.dataset_order, accepted.source_file, accepted.source_row
        ) as copy_number
    from accepted
    left join benchmark_repos
        on accepted.repo = benchmark_repos.repo
    left join overlapping_rows
        on
            accepted.source_dataset = overlapping_rows.source_dataset
            and accepted.source_file = overlapping_rows.source_file
            and accepted.source_row = overlapping_rows.source_row

),

flagged as (

    select
        source_dataset,
        source_file,
        source_row,
        list_filter(
            [
                if(is_benchmark_repo, 'benchmark_repo', null),
                if(overlaps_benchmark_text, 'benchmark_text', null),
                if(copy_number > 1, 'duplicate', null),
                if(resolved = false, 'unresolved', null),
                if(n_dropped_nudges > 0, 'dropped_nudges', null),
                if(n_dropped_format_errors > 0, 'dropped_format_errors', null)
            ],
            lambda flag: flag is not null
        ) || coalesce(artefact_flags, []) as flags
    from with_copy_number

)

select * from flagged

-- one row per (converted row, benchmark task) whose task text and problem statement share a 13-gram
-- (docs/flags.md, benchmark_text): n-grams as rows (macros/benchmark_ngrams.sql) on both sides, matched
-- by a hash join. Without the benchmark var no row is read.
--
-- DuckDB builds the join's hash table on the side it estimates smaller, and estimates an unnest at the
-- rows of its input: the benchmark's tasks (500 for SWE-bench Verified) against the converted rows
-- (211k). So the benchmark's n-grams are made here from its tasks, as the rows' are, and become the
-- build side; the rows' n-grams stream through the probe and are never stored, and memory is bounded by
-- the benchmark. (Read from a stored table of its n-grams, the benchmark side would be estimated at its
-- 100k+ n-grams, more than the rows, and DuckDB would build on the rows' n-grams instead: measured, the
-- whole table in memory.)

{%- set has_benchmark = var('benchmark') is not none %}
{%- set task_tags = '(?:pr_description|issue_description|issue)' %}

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

benchmark as (

    select * from {{ ref('stg_benchmark__instances') }}

),

statement_words as (

    select
        instance_id,
        {{ normalized_words('problem_statement') }} as words
    from benchmark

),

statement_ngrams as (

    select distinct
        instance_id,
        unnest({{ ngram_hashes('words') }}) as ngram_hash
    from statement_words

),

user_messages as (

    select
        source_dataset,
        source_file,
        source_row,
        instance_id,
        json_extract_string(messages, '$[1].content') as user_text
    from converted
    where reject_reason is null and {{ 'true' if has_benchmark else 'false' }}

),

task_texts as (

    -- the task inside the scaffold's prompt (SWE-agent: <pr_description>, OpenHands: <issue_description>),
    -- else the whole user message
    select
        source_dataset,
        source_file,
        source_row,
        instance_id,
        coalesce(
            nullif(regexp_extract(user_text, '<{{ task_tags }}>(.*)</{{ task_tags }}>', 1, 's'), ''),
            user_text
        ) as task_text
    from user_messages

),

task_words as (

    select
        source_dataset,
        source_file,
        source_row,
        instance_id,
        {{ normalized_words('task_text') }} as words
    from task_texts

),

task_ngrams as (

    select
        source_dataset,
        source_file,
        source_row,
        instance_id,
        unnest({{ ngram_hashes('words') }}) as ngram_hash
    from task_words

),

matched as (

    select
        task_ngrams.source_dataset,
        task_ngrams.source_file,
        task_ngrams.source_row,
        task_ngrams.instance_id,
        statement_ngrams.instance_id as benchmark_instance_id,
        -- positions, not distinct n-grams: a count(distinct) per group keeps a hash set per group
        count(*) as n_shared_ngrams
    from task_ngrams
    inner join statement_ngrams
        on task_ngrams.ngram_hash = statement_ngrams.ngram_hash
    group by
        task_ngrams.source_dataset,
        task_ngrams.source_file,
        task_ngrams.source_row,
        task_ngrams.instance_id,
        statement_ngrams.instance_id

)

select * from matched

-- one row per dataset, plus a total row: how many converted rows have a token count, how they are
-- distributed, and how many the token budget (var max_tokens) keeps and drops. Without a tokenizer
-- every count is null and nothing is dropped.

with

converted as (

    select * from {{ ref('sera_rectified') }}

),

tokenizers as (

    select * from {{ ref('stg_training__tokenizer') }}

),

counted as (

    select
        source_dataset,
        grouping(source_dataset) = 1 as is_total,
        count(*) as n_rows,
        count(n_tokens) as n_counted,
        cast(count_if(n_tokens is null and (select tokenizers.tokenizer from tokenizers) is not null) as bigint) as n_not_rendered,
        min(n_tokens) as min_tokens,
        cast(quantile_disc(n_tokens, 0.5) as integer) as median_tokens,
        cast(quantile_disc(n_tokens, 0.9) as integer) as p90_tokens,
        max(n_tokens) as max_tokens,
        -- rows the budget keeps: every row without a budget
        cast(count_if({{ 'n_tokens <= ' ~ var('max_tokens') if var('max_tokens') else 'true' }}) as bigint) as n_within_budget
    from converted
    group by grouping sets ((source_dataset), ())

),

with_dropped as (

    select
        *,
        n_rows - n_within_budget as n_over_budget
    from counted

)

select * from with_dropped

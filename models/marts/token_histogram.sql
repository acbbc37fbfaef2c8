-- one row per bin of n_tokens over the converted rows that have a count: 40 bins of equal width
-- from the smallest to the largest count (the card's picture). No rows without a tokenizer.

with

converted as (

    select * from {{ ref('sera_rectified') }}
    where n_tokens is not null

),

bounds as (

    select
        min(n_tokens) as lowest,
        greatest(ceil((max(n_tokens) - min(n_tokens) + 1) / 40.0), 1) as bin_width
    from converted

),

binned as (

    select
        cast(floor((converted.n_tokens - bounds.lowest) / bounds.bin_width) as integer) as bin,
        any_value(bounds.lowest) as lowest,
        any_value(bounds.bin_width) as bin_width,
        count(*) as n_rows
    from converted
    cross join bounds
    group by bin

),

ranged as (

    select
        bin,
        cast(lowest + bin * bin_width as integer) as bin_start,
        cast(lowest + (bin + 1) * bin_width as integer) as bin_end,
        n_rows
    from binned

)

select * from ranged

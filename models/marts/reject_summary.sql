-- one row per reject reason that occurs in this build: how many source rows it rejected, and what it means
-- (the reasons and their meanings are the package's, python/sera_rectify/reasons.py, served by stg_spec__reject_reasons)

with

rejects as (

    select * from {{ ref('sera_rectified_rejects') }}

),

reasons as (

    select * from {{ ref('stg_spec__reject_reasons') }}

),

counted as (

    select
        reason,
        count(*) as n_rows
    from rejects
    group by reason

),

described as (

    select
        counted.reason,
        counted.n_rows,
        reasons.meaning
    from counted
    left join reasons
        on counted.reason = reasons.reason

)

select * from described

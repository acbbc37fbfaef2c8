-- every flag a converted row carries is a code of stg_spec__flags (python/sera_rectify/flags.py)

with

flagged as (

    select * from {{ ref('int_trajectories_flagged') }}

),

flag_codes as (

    select * from {{ ref('stg_spec__flags') }}

),

row_flags as (

    select
        source_dataset,
        source_file,
        source_row,
        unnest(flags) as flag
    from flagged

),

unknown as (

    select row_flags.*
    from row_flags
    left join flag_codes
        on row_flags.flag = flag_codes.flag
    where flag_codes.flag is null

)

select * from unknown

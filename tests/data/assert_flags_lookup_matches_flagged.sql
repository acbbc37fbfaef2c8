-- the flags sera_rectified and sera_rectified_sft look up in the one-row index (macros/flags_index.sql)
-- are each row's own codes of int_trajectories_flagged: same rows, same lists

with

converted as (

    select * from {{ ref('sera_rectified') }}

),

converted_sft as (

    select * from {{ ref('sera_rectified_sft') }}

),

flagged as (

    select * from {{ ref('int_trajectories_flagged') }}

),

looked_up as (

    select
        converted.source_dataset,
        converted.source_file,
        converted.source_row,
        converted.flags,
        converted_sft.flags as sft_flags
    from converted
    inner join converted_sft
        on
            converted.source_dataset = converted_sft.source_dataset
            and converted.source_file = converted_sft.source_file
            and converted.source_row = converted_sft.source_row

),

mismatched as (

    select
        coalesce(looked_up.source_dataset, flagged.source_dataset) as source_dataset,
        coalesce(looked_up.source_file, flagged.source_file) as source_file,
        coalesce(looked_up.source_row, flagged.source_row) as source_row,
        looked_up.flags as looked_up_flags,
        looked_up.sft_flags as looked_up_sft_flags,
        flagged.flags
    from looked_up
    full outer join flagged
        on
            looked_up.source_dataset = flagged.source_dataset
            and looked_up.source_file = flagged.source_file
            and looked_up.source_row = flagged.source_row
    where
        looked_up.flags is distinct from flagged.flags
        or looked_up.sft_flags is distinct from flagged.flags

)

select * from mismatched

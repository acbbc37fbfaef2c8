-- one row per rejected source row, with the reason code and a detail naming the message index

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

rejected as (

    select
        source_dataset,
        source_file,
        source_row,
        instance_id,
        reject_reason as reason,
        reject_detail as detail
    from converted
    where reject_reason is not null

)

select * from rejected

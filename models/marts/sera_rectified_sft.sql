-- one row per converted trajectory in OpenAI chat format (sera_rectify/sft.py): the rows, metadata
-- and order of sera_rectified, with `messages` as assistant / tool turns instead of the six roles

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

flag_index as (

    select * from {{ ref('int_trajectory_flags_indexed') }}

),

accepted as (

    select
        sft_messages as messages,
        instance_id,
        teacher,
        scale,
        rollout,
        func_name,
        func_path,
        line_level_recall,
        source_dataset,
        source_file,
        source_row,
        dataset_order,
        source_format,
        tools,
        n_tokens
    from converted
    where reject_reason is null

),

with_flags as (

    -- the row's flag codes (docs/flags.md), looked up in a one-row index: a join could reorder the rows
    select
        accepted.*,
        {{ flags_of('accepted', 'flag_index') }} as flags
    from accepted
    cross join flag_index

)

select * from with_flags

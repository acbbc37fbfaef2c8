-- one row per converted trajectory in OpenAI chat format (sera_rectify/sft.py): the rows, metadata
-- and order of sera_rectified, with `messages` as assistant / tool turns instead of the six roles

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

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
        n_tokens
    from converted
    where reject_reason is null

)

select * from accepted

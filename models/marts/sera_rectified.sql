-- one row per converted trajectory: the 8 export columns, the source key and the row statistics

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

datasets as (

    select * from {{ ref('stg_sera__datasets') }}

),

accepted as (

    select * from converted
    where reject_reason is null

),

with_dataset as (

    select
        accepted.messages,
        accepted.instance_id,
        datasets.teacher,
        datasets.scale,
        datasets.rollout,
        accepted.func_name,
        accepted.func_path,
        accepted.line_level_recall,
        accepted.source_dataset,
        accepted.source_file,
        accepted.source_row,
        datasets.dataset_order,
        accepted.n_messages,
        accepted.n_tool_calls,
        accepted.n_trimmed_submits,
        accepted.n_folded_texts,
        accepted.n_filled_reasoning,
        accepted.n_replaced_chars,
        accepted.n_chars
    from accepted
    inner join datasets
        on accepted.source_dataset = datasets.source_dataset

)

select * from with_dataset

-- one row per converted trajectory: the 8 export columns, the source key and the row statistics,
-- in source order (datasets, files, rows), which the export keeps

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

accepted as (

    select
        messages,
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
        n_messages,
        n_tool_calls,
        n_trimmed_submits,
        n_folded_texts,
        n_filled_reasoning,
        n_replaced_chars,
        n_chars,
        n_tokens
    from converted
    where reject_reason is null

)

select * from accepted

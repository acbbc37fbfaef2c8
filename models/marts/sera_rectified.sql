-- one row per converted trajectory: the 8 export columns, the source key, the source's format, tools
-- and run metadata, and the row statistics, in source order (datasets, files, rows), which the export
-- keeps

with

converted as (

    select * from {{ ref('int_trajectories_converted') }}

),

flag_index as (

    select * from {{ ref('int_trajectory_flags_indexed') }}

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
        source_format,
        tools,
        resolved,
        exit_status,
        n_messages,
        n_tool_calls,
        n_trimmed_submits,
        n_folded_texts,
        n_filled_reasoning,
        n_replaced_chars,
        n_dropped_nudges,
        n_dropped_format_errors,
        n_chars,
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

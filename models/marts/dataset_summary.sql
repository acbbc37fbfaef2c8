-- one row per (teacher, scale, rollout), plus a total row: the figures the dataset card quotes

with

converted as (

    select * from {{ ref('sera_rectified') }}

),

summarised as (

    select
        teacher,
        scale,
        rollout,
        grouping(teacher, scale, rollout) = 7 as is_total,
        count(*) as n_rows,
        min(n_messages) as min_messages,
        round(avg(n_messages), 1) as avg_messages,
        max(n_messages) as max_messages,
        min(n_tool_calls) as min_tool_calls,
        round(avg(n_tool_calls), 1) as avg_tool_calls,
        max(n_tool_calls) as max_tool_calls,
        round(avg(line_level_recall), 4) as avg_line_level_recall
    from converted
    group by grouping sets ((teacher, scale, rollout), ())

)

select * from summarised

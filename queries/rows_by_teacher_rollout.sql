-- Rows by teacher × rollout: converted trajectories per (teacher, scale, rollout), their share, mean turns and tool calls.
-- The n_rows column sums to the row count of sera_rectified (rejected rows are in rejects_by_reason.sql).

select
    teacher,
    scale,
    rollout,
    count(*) as n_rows,
    round(100 * count(*) / sum(count(*)) over (), 2) as pct_of_rows,
    round(avg(n_messages), 1) as avg_messages,
    round(avg(n_tool_calls), 1) as avg_tool_calls,
    count(line_level_recall) as n_with_recall,
    round(avg(line_level_recall), 4) as avg_line_level_recall
from sera_rectified
group by teacher, scale, rollout
order by teacher, rollout;

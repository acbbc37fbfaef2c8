-- Longest trajectories: the 20 rows with the most messages (ties: most characters), with where each comes from.

select
    instance_id,
    teacher,
    scale,
    rollout,
    n_messages,
    n_tool_calls,
    n_chars,
    line_level_recall,
    source_file,
    source_row
from sera_rectified
order by n_messages desc, n_chars desc, dataset_order, source_file, source_row
limit 20;

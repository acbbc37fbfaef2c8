-- The SERA-32B style subset: GLM-4.6 teacher, T2 rollout, the 25,000 rows with the highest line_level_recall.
-- SERA-32B was trained on a 25,000-row subset of Sera-4.6-Lite-T2 (dataset card); how those rows were picked is not
-- published, so this takes the top 25,000 by recall (rows without a recall left out; ties in source order).
-- The columns are the export's 8, in its order. To save it:
--   python scripts/query.py sera32b_subset --out output/sera32b_subset.parquet
-- (a recall threshold instead of a count: dbt build --vars '{teacher: GLM-4.6, rollout: T2, min_recall: 0.75}')

select
    messages,
    instance_id,
    teacher,
    scale,
    rollout,
    func_name,
    func_path,
    line_level_recall
from sera_rectified
where teacher = 'GLM-4.6'
    and rollout = 'T2'
    and line_level_recall is not null
order by line_level_recall desc, dataset_order, source_file, source_row
limit 25000;

-- Recall histogram for T2: T2 rows per line_level_recall bin of width 0.1, per teacher; exactly 1.0 and null get their own rows.
-- T1 rows have no recall and are left out. Null on a T2 row: the target patch changes no line (spec/conversion.md §7).

with

t2 as (

    select
        teacher,
        line_level_recall as recall
    from sera_rectified
    where rollout = 'T2'

),

binned as (

    select
        teacher,
        case
            when recall is null then 11
            when recall >= 1 then 10
            else cast(floor(recall * 10) as integer)
        end as bin
    from t2

),

counted as (

    select
        bin,
        count(*) as n_rows,
        count(*) filter (where teacher = 'GLM-4.5-Air') as "n_GLM-4.5-Air",
        count(*) filter (where teacher = 'GLM-4.6') as "n_GLM-4.6"
    from binned
    group by bin

)

select
    case
        when bin = 11 then 'null'
        when bin = 10 then '1.0'
        else printf('[%.1f, %.1f)', bin / 10, (bin + 1) / 10)
    end as recall_bin,
    n_rows,
    "n_GLM-4.5-Air",
    "n_GLM-4.6",
    round(100 * n_rows / sum(n_rows) over (), 2) as pct_of_t2,
    bar(n_rows, 0, max(n_rows) over (), 30) as histogram
from counted
order by bin;

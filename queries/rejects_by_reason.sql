-- Rejects by reason: rejected source rows per reason and dataset, with the share of the dataset's rows and an example.

with

rejects as (

    select * from sera_rectified_rejects

),

by_reason as (

    select
        reason,
        source_dataset,
        count(*) as n_rejects,
        arg_min(source_file || ':' || source_row, (source_file, source_row)) as first_example,
        arg_min(detail, (source_file, source_row)) as first_detail
    from rejects
    group by reason, source_dataset

)

select
    by_reason.reason,
    by_reason.source_dataset,
    by_reason.n_rejects,
    round(100 * by_reason.n_rejects / reconciliation.rows_read, 3) as pct_of_rows_read,
    reasons.meaning,
    by_reason.first_example,
    by_reason.first_detail
from by_reason
left join stg_spec__reject_reasons as reasons
    on by_reason.reason = reasons.reason
left join source_reconciliation as reconciliation
    on by_reason.source_dataset = reconciliation.source_dataset
order by by_reason.n_rejects desc, by_reason.reason, by_reason.source_dataset;

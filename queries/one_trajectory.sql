-- One trajectory, message by message: role, length and the start of each message of one instance_id.
-- Pick it with `python scripts/query.py one_trajectory --set instance_id=<id>` (or, in any DuckDB client,
-- SET VARIABLE instance_id = '<id>'); default tinydb_10309. An id can occur in several datasets (T2 reuses
-- T1's ids): all are listed, one after the other; --set source_dataset=<name> keeps one.

with

chosen as (

    select
        source_dataset,
        source_file,
        source_row,
        dataset_order,
        from_json(messages, '[{"role": "VARCHAR", "content": "VARCHAR"}]') as message_list
    from sera_rectified
    where instance_id = coalesce(getvariable('instance_id'), 'tinydb_10309')
        and source_dataset = coalesce(getvariable('source_dataset'), source_dataset)

),

messages as (

    select
        source_dataset,
        source_file,
        source_row,
        dataset_order,
        generate_subscripts(message_list, 1) - 1 as position,
        unnest(message_list) as message
    from chosen

)

select
    source_dataset,
    position,
    message.role as role,
    length(message.content) as n_chars,
    left(regexp_replace(message.content, '\s+', ' ', 'g'), 160) as content_start
from messages
order by dataset_order, source_file, source_row, position;

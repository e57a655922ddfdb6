{{ config(materialized='view') }}
-- Current state of the organisation trainings (increment): per (training_id, org_id), the row of the latest
-- delivery (a correction re-sends the key with changed values).
with current_rows as (
    {{ current_state('msdhs', 'org_trainings', ['training_id', 'org_id'], 'increment') }}
),

final as (
    select
        training_id,
        org_id,
        course,
        held_on,
        participants::int as participants,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

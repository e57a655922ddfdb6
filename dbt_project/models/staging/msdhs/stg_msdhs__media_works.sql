{{ config(materialized='view') }}
-- Current state of the media works (snapshot): one row per media_id.
with current_rows as (
    {{ current_state('msdhs', 'media_works', ['media_id'], 'snapshot') }}
),

final as (
    select
        media_id,
        title,
        category,
        submitted_on,
        decision,
        decided_on,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

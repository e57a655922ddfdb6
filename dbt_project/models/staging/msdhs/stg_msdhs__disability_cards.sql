{{ config(materialized='view') }}
-- Current state of the disability cards registry (snapshot): one row per card_no.
with current_rows as (
    {{ current_state('msdhs', 'disability_cards', ['card_no'], 'snapshot') }}
),

final as (
    select
        card_no,
        national_id,
        disability_type,
        issued_on,
        expires_on,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

{{ config(materialized='view') }}
-- Current state of the volunteers registry (snapshot): one row per volunteer_id.
with current_rows as (
    {{ current_state('msdhs', 'volunteers', ['volunteer_id'], 'snapshot') }}
),

final as (
    select
        volunteer_id,
        national_id,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        registered_on,
        left_on,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

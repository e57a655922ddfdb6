{{ config(materialized='view') }}
-- Current state of the welfare services (increment): per service_id, the row of the latest
-- delivery (a correction re-sends the key with changed values).
with current_rows as (
    {{ current_state('msdhs', 'welfare_services', ['service_id'], 'increment') }}
),

final as (
    select
        service_id,
        national_id,
        service_type,
        amount,
        delivered_on,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

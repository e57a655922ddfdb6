{{ config(materialized='view') }}
-- Current state of the villages registry (snapshot): one row per village_code.
with current_rows as (
    {{ current_state('cdd', 'villages', ['village_code'], 'snapshot') }}
),

final as (
    select
        village_code,
        village_name,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

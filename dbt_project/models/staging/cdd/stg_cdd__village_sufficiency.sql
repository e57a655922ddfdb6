{{ config(materialized='view') }}
-- Current state of the village sufficiency assessments (snapshot): one row per (village_code, assessed_fy).
with current_rows as (
    {{ current_state('cdd', 'village_sufficiency', ['village_code', 'assessed_fy'], 'snapshot') }}
),

final as (
    select
        village_code,
        left(village_code, 6) as subdistrict_code,
        left(village_code, 4) as district_code,
        assessed_fy::int as assessed_fy,
        level,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

{{ config(materialized='view') }}
-- Current state of the activities registry (snapshot): one row per activity_id.
with current_rows as (
    {{ current_state('msdhs', 'activities', ['activity_id'], 'snapshot') }}
),

final as (
    select
        activity_id,
        org_id,
        sector,
        title,
        fiscal_year::int as fiscal_year,
        started_on,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        beneficiaries::int as beneficiaries,
        sufficiency_economy,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

{{ config(materialized='view') }}
-- Current state of the organisations registry (snapshot): one row per org_id.
with current_rows as (
    {{ current_state('msdhs', 'organizations', ['org_id'], 'snapshot') }}
),

final as (
    select
        org_id,
        name as org_name,
        sector,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        joined_network_on,
        left_network_on,
        certification,
        certified_on,
        certification_revoked_on,
        quality_assessed_fy::int as quality_assessed_fy,
        quality_passed,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

{{ config(materialized='view') }}
-- Current state of the community welfare funds (snapshot): one row per fund_id.
with current_rows as (
    {{ current_state('cdd', 'community_welfare_funds', ['fund_id'], 'snapshot') }}
),

final as (
    select
        fund_id,
        name as fund_name,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        established_on,
        members::int as members,
        balance,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

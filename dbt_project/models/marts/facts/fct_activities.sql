-- Social-welfare projects and activities of all sectors reported to the office
-- (โครงการ/กิจกรรม), one row per activity_id, current state.
with activities as (
    select * from {{ ref('stg_msdhs__activities') }}
),

final as (
    select
        activity_id::text as activity_id,
        org_id::text as org_id,
        sector::text as sector,
        title::text as title,
        fiscal_year::int as fiscal_year,
        started_on::date as started_on,
        subdistrict_code::text as subdistrict_code,
        district_code::text as district_code,
        beneficiaries::int as beneficiaries,
        sufficiency_economy::boolean as sufficiency_economy,
        is_stale::boolean as is_stale
    from activities
)

select * from final

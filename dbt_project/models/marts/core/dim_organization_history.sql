-- Every version of every organisation the warehouse has seen (SCD type 2, from the
-- organisations snapshot): certification and network membership as they stood between
-- valid_from and valid_to. valid_from_drop is the extract date of the drop that first
-- delivered the version; valid_to is NULL while the version is current, and set when a
-- later drop changed the organisation or deleted it at the source.
with versions as (
    select * from {{ ref('snp_msdhs__organizations') }}
),

final as (
    select
        dbt_scd_id::text as org_version_key,
        org_id::text as org_id,
        org_name::text as org_name,
        sector::text as sector,
        subdistrict_code::text as subdistrict_code,
        district_code::text as district_code,
        joined_network_on::date as joined_network_on,
        left_network_on::date as left_network_on,
        certification::text as certification,
        certified_on::date as certified_on,
        certification_revoked_on::date as certification_revoked_on,
        quality_assessed_fy::int as quality_assessed_fy,
        quality_passed::boolean as quality_passed,
        extracted_on::date as valid_from_drop,
        dbt_valid_from::timestamp as valid_from,
        dbt_valid_to::timestamp as valid_to,
        (dbt_valid_to is null)::boolean as is_current
    from versions
)

select * from final

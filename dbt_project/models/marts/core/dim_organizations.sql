-- Organisations (องค์กร), one row per org_id ever delivered: the latest version from the
-- snapshot (so an organisation deleted at the source stays, flagged), with its history
-- summarised: when first seen, how many versions, whether a certification was ever revoked.
with history as (
    select * from {{ ref('dim_organization_history') }}
),

latest as (
    select distinct on (org_id) *
    from history
    order by org_id asc, valid_from desc
),

summary as (
    select
        org_id,
        min(valid_from_drop) as first_seen_drop,
        count(*) as versions
    from history
    group by org_id
),

final as (
    select
        l.org_id,
        l.org_name,
        l.sector,
        l.subdistrict_code,
        l.district_code,
        l.joined_network_on,
        l.left_network_on,
        l.certification,
        l.certified_on,
        l.certification_revoked_on,
        l.quality_assessed_fy,
        l.quality_passed,
        (l.joined_network_on is not null and l.left_network_on is null)::boolean as is_network_partner_now,
        (l.certification is not null and l.certification_revoked_on is null)::boolean as is_certified_now,
        (not l.is_current)::boolean as is_deleted_at_source,
        s.first_seen_drop::date as first_seen_drop,
        s.versions::int as versions
    from latest as l
    inner join summary as s on l.org_id = s.org_id
)

select * from final

-- Proposals to the Social Welfare Promotion Fund (กองทุนส่งเสริมการจัดสวัสดิการสังคม),
-- one row per proposal_id. Area: the proposing organisation's; was_certified says whether
-- it was certified on submitted_on (S3.4).
with proposals as (
    select * from {{ ref('stg_msdhs__fund_proposals') }}
),

organizations as (
    select * from {{ ref('stg_msdhs__organizations') }}
),

final as (
    select
        p.proposal_id::text as proposal_id,
        p.org_id::text as org_id,
        p.fiscal_year::int as fiscal_year,
        p.title::text as title,
        p.submitted_on::date as submitted_on,
        p.requested_amount::numeric(16, 2) as requested_amount,
        p.approved_amount::numeric(16, 2) as approved_amount,
        p.status::text as status,
        p.sufficiency_economy::boolean as sufficiency_economy,
        o.district_code::text as district_code,
        coalesce({{ is_certified('o', 'p.submitted_on') }}, false)::boolean as was_certified,
        p.is_stale::boolean as is_stale
    from proposals as p
    left join organizations as o on p.org_id = o.org_id
)

select * from final

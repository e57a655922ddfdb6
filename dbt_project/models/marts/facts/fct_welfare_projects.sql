-- Local authorities' social-welfare projects (โครงการของ อปท.), one row per project_id,
-- current state. Area: the authority's district (NULL for the PAO or an unknown authority).
with projects as (
    select * from {{ ref('stg_lao__welfare_projects') }}
),

authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

final as (
    select
        p.project_id::text as project_id,
        p.lao_code::text as lao_code,
        p.fiscal_year::int as fiscal_year,
        p.title::text as title,
        p.started_on::date as started_on,
        p.budget::numeric(16, 2) as budget,
        p.beneficiaries::int as beneficiaries,
        p.sufficiency_economy::boolean as sufficiency_economy,
        a.district_code::text as district_code,
        p.is_stale::boolean as is_stale
    from projects as p
    left join authorities as a on p.lao_code = a.lao_code
)

select * from final

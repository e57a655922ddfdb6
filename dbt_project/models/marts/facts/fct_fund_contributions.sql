-- Contributions of local authorities to community welfare funds (กองทุนสวัสดิการชุมชน),
-- one row per contribution_id, current state (latest delivery of each key).
with contributions as (
    select * from {{ ref('stg_lao__fund_contributions') }}
),

authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

final as (
    select
        c.contribution_id::text as contribution_id,
        c.lao_code::text as lao_code,
        c.fund_id::text as fund_id,
        c.fiscal_year::int as fiscal_year,
        c.amount::numeric(16, 2) as amount,
        c.paid_on::date as paid_on,
        a.district_code::text as district_code,
        c.is_stale::boolean as is_stale
    from contributions as c
    left join authorities as a on c.lao_code = a.lao_code
)

select * from final

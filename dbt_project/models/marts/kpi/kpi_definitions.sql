-- The indicators of the Nakhon Sawan social-welfare strategy (issue 3, fiscal years 2560-2564),
-- with short Thai names (name_th, as kpis.md words them) beside English ones, and the
-- indicator as the plan words it (plan_wording_th; the overall goal for G.1-G.4).
with definitions as (
    select * from {{ ref('strategy_indicators') }}
),

final as (
    select
        kpi_code::text as kpi_code,
        strategy_no::int as strategy_no,
        name_th::text as name_th,
        name_en::text as name_en,
        unit::text as unit,
        direction::text as direction,
        area_scope::text as area_scope,
        plan_wording_th::text as plan_wording_th
    from definitions
)

select * from final

-- Attainment of the office's targets (kpi_targets seed): one row per target with the
-- indicator's value for that year and area. attained follows the indicator's direction
-- (up: value >= target; down: value <= target); percent_of_target = 100 * value / target,
-- 1 decimal, NULL when the target is 0 or the value is missing.
with targets as (
    select * from {{ ref('kpi_targets') }}
),

kpi_values as (
    select * from {{ ref('kpi_values') }}
),

definitions as (
    select * from {{ ref('kpi_definitions') }}
),

final as (
    select
        t.kpi_code::text as kpi_code,
        t.fiscal_year::int as fiscal_year,
        t.area_code::text as area_code,
        d.direction::text as direction,
        d.unit::text as unit,
        t.target::numeric as target,
        v.value::numeric as value,
        case
            when v.value is null then null
            when d.direction = 'down' then v.value <= t.target
            else v.value >= t.target
        end::boolean as attained,
        {{ kpi_percent('v.value', 't.target') }}::numeric as percent_of_target
    from targets as t
    inner join definitions as d on t.kpi_code = d.kpi_code
    left join kpi_values as v
        on
            t.kpi_code = v.kpi_code
            and t.fiscal_year = v.fiscal_year
            and t.area_code = v.area_code
)

select * from final

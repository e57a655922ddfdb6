-- S4.1 ชุมชนพอเพียงระดับพออยู่พอกินตามเกณฑ์ของกรมการพัฒนาชุมชน
-- Villages whose latest assessment with assessed_fy <= F is at level พออยู่พอกิน or higher.
with village_sufficiency as (
    select * from {{ ref('stg_cdd__village_sufficiency') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

latest_assessments as (
    select distinct on (fy.fiscal_year, s.village_code)
        fy.fiscal_year,
        s.village_code,
        s.level
    from village_sufficiency as s
    inner join fiscal_years as fy on s.assessed_fy <= fy.fiscal_year
    order by fy.fiscal_year asc, s.village_code asc, s.assessed_fy desc
),

counted as (
    select
        latest.fiscal_year,
        left(latest.village_code, 4) as district_code,
        latest.village_code as item_id
    from latest_assessments as latest
    where {{ sufficiency_level_rank('latest.level') }} >= 1
),

{{ kpi_count_rows('S4.1', 'counted') }}

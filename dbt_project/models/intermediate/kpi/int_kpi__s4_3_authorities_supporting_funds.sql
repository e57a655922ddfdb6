-- S4.3 องค์กรปกครองส่วนท้องถิ่นที่ส่งเสริม สนับสนุนกองทุนสวัสดิการชุมชน
-- Distinct local authorities with fund contributions of fiscal year F summing to more than 0.
with fund_contributions as (
    select * from {{ ref('stg_lao__fund_contributions') }}
),

authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

counted as (
    select
        c.fiscal_year,
        la.district_code,
        c.lao_code as item_id
    from fund_contributions as c
    left join authorities as la on c.lao_code = la.lao_code
    group by c.fiscal_year, la.district_code, c.lao_code
    having sum(c.amount) > 0
),

{{ kpi_count_rows('S4.3', 'counted') }}

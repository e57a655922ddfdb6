-- S2.1 องค์กรที่ได้รับการรับรองเป็นองค์กรสาธารณประโยชน์และองค์กรสวัสดิการชุมชน
-- Organisations with a certification, certified_on <= FY end, and not revoked on or before FY end.
-- Revoked exactly on FY end: not counted ("on or before"). Read on the current registry state.
with organizations as (
    select * from {{ ref('stg_msdhs__organizations') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

counted as (
    select
        fy.fiscal_year,
        o.district_code,
        o.org_id as item_id
    from organizations as o
    inner join fiscal_years as fy
        on {{ is_certified('o', 'fy.fy_end') }}
),

{{ kpi_count_rows('S2.1', 'counted') }}

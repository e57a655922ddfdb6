-- S3.1 ภาคีเครือข่ายที่ดำเนินการด้านสวัสดิการสังคมอย่างมีคุณภาพตามเกณฑ์
-- Network partners counted in S2.2 for F whose quality_assessed_fy <= F and quality_passed is true.
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
        on {{ is_network_partner('o', 'fy.fy_end') }}
    where
        o.quality_assessed_fy <= fy.fiscal_year
        and o.quality_passed
),

{{ kpi_count_rows('S3.1', 'counted') }}

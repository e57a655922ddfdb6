-- S2.4 อาสาสมัครที่มีส่วนร่วมในการพัฒนาสังคม
-- Volunteers with registered_on <= FY end and not left on or before FY end.
with volunteers as (
    select * from {{ ref('stg_msdhs__volunteers') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

counted as (
    select
        fy.fiscal_year,
        v.district_code,
        v.volunteer_id as item_id
    from volunteers as v
    inner join fiscal_years as fy
        on v.registered_on <= fy.fy_end
    where v.left_on is null or v.left_on > fy.fy_end
),

{{ kpi_count_rows('S2.4', 'counted') }}

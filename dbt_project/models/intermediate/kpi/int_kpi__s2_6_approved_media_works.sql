-- S2.6 สื่อสร้างสรรค์ด้านสังคมที่ผ่านการพิจารณาของคณะกรรมการ
-- Media works with decision APPROVED and decided_on in F. Province only.
with media_works as (
    select * from {{ ref('stg_msdhs__media_works') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

counted as (
    select
        fy.fiscal_year,
        null::text as district_code,
        m.media_id as item_id
    from media_works as m
    inner join fiscal_years as fy
        on m.decided_on between fy.fy_start and fy.fy_end
    where m.decision = 'APPROVED'
),

{{ kpi_count_rows('S2.6', 'counted', province_only=true) }}

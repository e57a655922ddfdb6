-- S1.2 จำนวนฐานข้อมูลระดับท้องถิ่นที่ได้รับการยกระดับ
-- Local authorities whose allowance records for F are reliable (int_lao_allowance_reliability).
-- District by the authority's district_code; the PAO counts in the province row only.
with reliability as (
    select * from {{ ref('int_lao_allowance_reliability') }}
),

counted as (
    select
        r.fiscal_year,
        r.district_code,
        r.lao_code as item_id
    from reliability as r
    where r.is_reliable
),

{{ kpi_count_rows('S1.2', 'counted') }}

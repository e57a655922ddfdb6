-- S3.2 องค์กรปกครองส่วนท้องถิ่นที่สนับสนุนงบประมาณด้านสวัสดิการสังคม
-- Local authorities with spent > 0 on a SOCIAL_WELFARE budget line of F.
-- District: the authority's district_code; the PAO (and a lao_code with no current
-- authority record) counts in the province row only.
with budgets as (
    select * from {{ ref('stg_lao__budgets') }}
),

authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

counted as (
    select
        b.fiscal_year,
        la.district_code,
        b.lao_code as item_id
    from budgets as b
    left join authorities as la on b.lao_code = la.lao_code
    where
        b.category = 'SOCIAL_WELFARE'
        and b.spent > 0
),

{{ kpi_count_rows('S3.2', 'counted') }}

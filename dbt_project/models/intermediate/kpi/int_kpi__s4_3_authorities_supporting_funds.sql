-- S4.3 องค์กรปกครองส่วนท้องถิ่นที่ส่งเสริม สนับสนุนกองทุนสวัสดิการชุมชน
-- Distinct local authorities with fund contributions of fiscal year F summing to more than 0.
{{ kpi_count_rows('S4.3', "
    select c.fiscal_year, la.district_code, c.lao_code as item_id
    from " ~ ref('stg_lao__fund_contributions') ~ " as c
    left join " ~ ref('int_local_authority_areas') ~ " as la on la.lao_code = c.lao_code
    group by c.fiscal_year, la.district_code, c.lao_code
    having sum(c.amount) > 0
") }}

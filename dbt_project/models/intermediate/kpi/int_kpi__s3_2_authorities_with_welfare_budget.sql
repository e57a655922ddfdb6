-- S3.2 องค์กรปกครองส่วนท้องถิ่นที่สนับสนุนงบประมาณด้านสวัสดิการสังคม
-- Local authorities with spent > 0 on a SOCIAL_WELFARE budget line of F.
-- District: the authority's district_code; the PAO (and a lao_code with no current
-- authority record) counts in the province row only.
{{ kpi_count_rows('S3.2', "
    select b.fiscal_year, la.district_code, b.lao_code as item_id
    from " ~ ref('stg_lao__budgets') ~ " as b
    left join " ~ ref('int_local_authority_areas') ~ " as la on la.lao_code = b.lao_code
    where b.category = 'SOCIAL_WELFARE'
        and b.spent > 0
") }}

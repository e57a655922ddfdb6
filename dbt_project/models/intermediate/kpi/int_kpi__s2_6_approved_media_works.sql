-- S2.6 สื่อสร้างสรรค์ด้านสังคมที่ผ่านการพิจารณาของคณะกรรมการ
-- Media works with decision APPROVED and decided_on in F. Province only.
{{ kpi_count_rows('S2.6', "
    select fy.fiscal_year, null::text as district_code, m.media_id as item_id
    from " ~ ref('stg_msdhs__media_works') ~ " as m
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on m.decided_on between fy.fy_start and fy.fy_end
    where m.decision = 'APPROVED'
", province_only=true) }}

-- S3.1 ภาคีเครือข่ายที่ดำเนินการด้านสวัสดิการสังคมอย่างมีคุณภาพตามเกณฑ์
-- Network partners counted in S2.2 for F whose quality_assessed_fy <= F and quality_passed is true.
{{ kpi_count_rows('S3.1', "
    select fy.fiscal_year, o.district_code, o.org_id as item_id
    from " ~ ref('stg_msdhs__organizations') ~ " as o
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on " ~ is_network_partner('o', 'fy.fy_end') ~ "
    where o.quality_assessed_fy <= fy.fiscal_year
        and o.quality_passed
") }}

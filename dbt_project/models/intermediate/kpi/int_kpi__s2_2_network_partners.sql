-- S2.2 ภาคีเครือข่ายที่มีส่วนร่วมในการจัดสวัสดิการสังคม
-- Organisations with joined_network_on <= FY end and not left on or before FY end.
{{ kpi_count_rows('S2.2', "
    select fy.fiscal_year, o.district_code, o.org_id as item_id
    from " ~ ref('stg_msdhs__organizations') ~ " as o
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on " ~ is_network_partner('o', 'fy.fy_end') ~ "
") }}

-- S2.3 โครงการ/กิจกรรมด้านการจัดสวัสดิการสังคมจากทุกภาคส่วน
-- activities with fiscal_year = F, plus local-authority welfare_projects with fiscal_year = F.
{{ kpi_count_rows('S2.3', "
    select a.fiscal_year, a.district_code, 'activity:' || a.activity_id as item_id
    from " ~ ref('stg_msdhs__activities') ~ " as a
    union all
    select p.fiscal_year, la.district_code, 'project:' || p.project_id as item_id
    from " ~ ref('stg_lao__welfare_projects') ~ " as p
    left join " ~ ref('int_local_authority_areas') ~ " as la on la.lao_code = p.lao_code
") }}

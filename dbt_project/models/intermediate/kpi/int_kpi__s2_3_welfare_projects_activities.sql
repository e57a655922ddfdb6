-- S2.3 โครงการ/กิจกรรมด้านการจัดสวัสดิการสังคมจากทุกภาคส่วน
-- activities with fiscal_year = F, plus local-authority welfare_projects with fiscal_year = F.
with activities as (
    select * from {{ ref('stg_msdhs__activities') }}
),

welfare_projects as (
    select * from {{ ref('stg_lao__welfare_projects') }}
),

authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

counted as (
    select
        a.fiscal_year,
        a.district_code,
        'activity:' || a.activity_id as item_id
    from activities as a
    union all
    select
        p.fiscal_year,
        la.district_code,
        'project:' || p.project_id as item_id
    from welfare_projects as p
    left join authorities as la on p.lao_code = la.lao_code
),

{{ kpi_count_rows('S2.3', 'counted') }}

-- S4.2 โครงการ/กิจกรรมที่เน้นหลักปรัชญาของเศรษฐกิจพอเพียง
-- The projects of S2.3 (activities and local-authority welfare projects of F) with
-- sufficiency_economy true.
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
    where a.sufficiency_economy
    union all
    select
        p.fiscal_year,
        la.district_code,
        'project:' || p.project_id as item_id
    from welfare_projects as p
    left join authorities as la on p.lao_code = la.lao_code
    where p.sufficiency_economy
),

{{ kpi_count_rows('S4.2', 'counted') }}

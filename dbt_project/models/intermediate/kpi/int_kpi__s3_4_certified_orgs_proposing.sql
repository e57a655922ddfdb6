-- S3.4 องค์การสวัสดิการสังคมที่เสนอโครงการขอรับงบประมาณจากกองทุน
-- Distinct organisations that submitted at least one fund proposal of fiscal year F (any
-- status) while certified (certified_on <= submitted_on, not revoked on or before submitted_on).
with fund_proposals as (
    select * from {{ ref('stg_msdhs__fund_proposals') }}
),

organizations as (
    select * from {{ ref('stg_msdhs__organizations') }}
),

counted as (
    select
        p.fiscal_year,
        o.district_code,
        o.org_id as item_id
    from fund_proposals as p
    inner join organizations as o on p.org_id = o.org_id
    where {{ is_certified('o', 'p.submitted_on') }}
),

{{ kpi_count_rows('S3.4', 'counted') }}

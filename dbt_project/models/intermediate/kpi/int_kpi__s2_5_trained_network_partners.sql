-- S2.5 องค์กรภาคีเครือข่ายที่ได้รับการพัฒนาศักยภาพ
-- Distinct organisations with at least one training held in F while they were network
-- partners (joined on or before held_on, not left on or before held_on).
with trainings as (
    select * from {{ ref('stg_msdhs__org_trainings') }}
),

organizations as (
    select * from {{ ref('stg_msdhs__organizations') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

counted as (
    select
        fy.fiscal_year,
        o.district_code,
        o.org_id as item_id
    from trainings as t
    inner join organizations as o on t.org_id = o.org_id
    inner join fiscal_years as fy
        on t.held_on between fy.fy_start and fy.fy_end
    where {{ is_network_partner('o', 't.held_on') }}
),

{{ kpi_count_rows('S2.5', 'counted') }}

-- S2.2 ภาคีเครือข่ายที่มีส่วนร่วมในการจัดสวัสดิการสังคม
-- Organisations with joined_network_on <= FY end and not left on or before FY end.
with organizations as (
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
    from organizations as o
    inner join fiscal_years as fy
        on {{ is_network_partner('o', 'fy.fy_end') }}
),

{{ kpi_count_rows('S2.2', 'counted') }}

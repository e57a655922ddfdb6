{#- A table, so its count over the coverage rows runs with parallel workers (CREATE TABLE AS), never
    inside kpi_values' INSERT. -#}
{{ config(materialized='table') }}
-- G.2 ความครอบคลุมเบี้ยความพิการ
-- Of the persons alive at FY end holding a disability card valid at FY end
-- (issued_on <= FY end < expires_on; a card without expires_on does not expire), the percentage
-- with at least one DISABILITY payment for September of F: int_allowance_coverage.
-- District by home subdistrict.
with coverage as (
    select * from {{ ref('int_allowance_coverage') }}
),

population as (
    select
        c.fiscal_year,
        c.home_district_code as district_code,
        c.national_id as item_id,
        c.is_paid as is_hit
    from coverage as c
    where c.allowance_type = 'DISABILITY'
),

{{ kpi_percent_rows('G.2', 'population') }}

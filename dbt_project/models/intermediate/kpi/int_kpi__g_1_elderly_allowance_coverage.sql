{#- A table, so its count over the coverage rows runs with parallel workers (CREATE TABLE AS), never
    inside kpi_values' INSERT. -#}
{{ config(materialized='table') }}
-- G.1 ความครอบคลุมเบี้ยยังชีพผู้สูงอายุ
-- Of the persons in the register alive at FY end (no died_on, or died_on after FY end: a person is
-- dead from died_on on) and aged 60 or more at FY end (unknown birth date: outside the test), the
-- percentage with at least one ELDERLY payment for September of F (any current payment, improper
-- or not): int_allowance_coverage. District by home subdistrict.
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
    where c.allowance_type = 'ELDERLY'
),

{{ kpi_percent_rows('G.1', 'population') }}

{#- A table, not a view: it scans fct_allowance_payments (13 M rows at full scale), which
    PostgreSQL does with parallel workers in CREATE TABLE AS, never inside kpi_values' INSERT. -#}
{{ config(materialized='table') }}
-- G.1 ความครอบคลุมเบี้ยยังชีพผู้สูงอายุ
-- Of the persons in the register alive at FY end (no died_on, or died_on after FY end: a person is
-- dead from died_on on) and aged 60 or more at FY end (unknown birth date: outside the test), the
-- percentage with at least one ELDERLY payment for September of F (any current payment, improper
-- or not; read from fct_allowance_payments by person_key). District by home subdistrict.
{{ kpi_percent_rows('G.1', "
    select
        fy.fiscal_year,
        p.home_district_code as district_code,
        p.national_id as item_id,
        paid.person_key is not null as is_hit
    from " ~ ref('person_register') ~ " as p
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on p.birth_date is not null
        and extract(year from age(fy.fy_end, p.birth_date)) >= 60
        and (p.died_on is null or p.died_on > fy.fy_end)
    left join (
        select distinct person_key, period_month
        from " ~ ref('fct_allowance_payments') ~ "
        where allowance_type = 'ELDERLY' and extract(month from period_month) = 9
    ) as paid
        on paid.person_key = p.person_key
        and paid.period_month = make_date(fy.fiscal_year - 543, 9, 1)
") }}

{#- A table, not a view: it scans fct_allowance_payments (13 M rows at full scale), which
    PostgreSQL does with parallel workers in CREATE TABLE AS, never inside kpi_values' INSERT. -#}
{{ config(materialized='table') }}
-- G.2 ความครอบคลุมเบี้ยความพิการ
-- Of the persons alive at FY end holding a disability card valid at FY end
-- (issued_on <= FY end < expires_on; a card without expires_on does not expire), the percentage
-- with at least one DISABILITY payment for September of F (fct_allowance_payments, by person_key).
-- District by home subdistrict.
{{ kpi_percent_rows('G.2', "
    select
        fy.fiscal_year,
        p.home_district_code as district_code,
        p.national_id as item_id,
        paid.person_key is not null as is_hit
    from " ~ ref('person_register') ~ " as p
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on p.died_on is null or p.died_on > fy.fy_end
    left join (
        select distinct person_key, period_month
        from " ~ ref('fct_allowance_payments') ~ "
        where allowance_type = 'DISABILITY' and extract(month from period_month) = 9
    ) as paid
        on paid.person_key = p.person_key
        and paid.period_month = make_date(fy.fiscal_year - 543, 9, 1)
    where exists (
        select 1 from " ~ ref('stg_msdhs__disability_cards') ~ " as c
        where c.national_id = p.national_id
            and c.issued_on <= fy.fy_end
            and (c.expires_on is null or c.expires_on > fy.fy_end)
    )
") }}

{#- A table, so its scan of the payments runs with parallel workers (CREATE TABLE AS), never inside
    kpi_values' INSERT. -#}
{{ config(materialized='table') }}
-- Who is eligible for an allowance at the end of each fiscal year F, and whether they were paid it
-- for September (the last month) of F: the population of G.1 and G.2 and the follow-up list
-- eligible_persons_not_paid.
--   ELDERLY:    alive at FY end (no died_on, or died_on after FY end: a person is dead from died_on
--               on) and aged 60 or more at FY end (unknown birth date: not eligible);
--   DISABILITY: alive at FY end and holding a disability card valid at FY end
--               (issued_on <= FY end < expires_on; a card without expires_on does not expire).
-- is_paid: at least one current payment of that allowance type for September of F (any payment,
-- improper or not), matched by person_key.
with persons as not materialized (
    select * from {{ ref('int_person_register') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

disability_cards as (
    select * from {{ ref('stg_msdhs__disability_cards') }}
),

payments as (
    select * from {{ ref('int_allowance_payments_flagged') }}
),

eligible as (
    select
        fy.fiscal_year,
        fy.fy_end,
        'ELDERLY'::text as allowance_type,
        p.national_id,
        p.person_key,
        p.home_district_code
    from persons as p
    inner join fiscal_years as fy
        on
            p.birth_date is not null
            and extract(year from age(fy.fy_end, p.birth_date)) >= 60
            and (p.died_on is null or p.died_on > fy.fy_end)
    union all
    select
        fy.fiscal_year,
        fy.fy_end,
        'DISABILITY'::text as allowance_type,
        p.national_id,
        p.person_key,
        p.home_district_code
    from persons as p
    inner join fiscal_years as fy
        on p.died_on is null or p.died_on > fy.fy_end
    where exists (
        select 1 from disability_cards as c
        where
            c.national_id = p.national_id
            and c.issued_on <= fy.fy_end
            and (c.expires_on is null or c.expires_on > fy.fy_end)
    )
),

september_payments as (
    select distinct
        person_key,
        allowance_type,
        period_month
    from payments
    where allowance_type in ('ELDERLY', 'DISABILITY') and extract(month from period_month) = 9
),

final as (
    select
        e.fiscal_year::int as fiscal_year,
        e.fy_end::date as fy_end,
        e.allowance_type::text as allowance_type,
        e.national_id::text as national_id,
        e.person_key::text as person_key,
        e.home_district_code::text as home_district_code,
        (paid.person_key is not null)::boolean as is_paid
    from eligible as e
    left join september_payments as paid
        on
            e.person_key = paid.person_key
            and e.allowance_type = paid.allowance_type
            and paid.period_month = make_date(e.fiscal_year - 543, 9, 1)
)

select * from final

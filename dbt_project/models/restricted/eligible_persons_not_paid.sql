-- ผู้มีสิทธิ์ที่ยังไม่ได้รับเบี้ย, person by person, for follow-up: persons eligible for an allowance
-- and not paid for September (the last month) of the latest fiscal year, as G.1 and G.2 read them
-- (int_allowance_coverage):
--   ELDERLY:    alive at FY end and aged 60 or more at FY end (unknown birth date: not listed);
--   DISABILITY: alive at FY end and holding a disability card valid at FY end
--               (issued_on <= FY end < expires_on);
-- and no current payment of that allowance type for September of the FY. A person eligible for
-- both and paid neither has two rows. RESTRICTED: national ids and names.
with coverage as (
    select * from {{ ref('int_allowance_coverage') }}
),

fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

persons as (
    select * from {{ ref('int_person_register') }}
),

unpaid as (
    select *
    from coverage
    where
        fiscal_year = (select max(fy.fiscal_year) from fiscal_years as fy)
        and not is_paid
),

final as (
    select
        u.fiscal_year::int as fiscal_year,
        u.allowance_type::text as allowance_type,
        p.national_id::text as national_id,
        p.first_name::text as first_name,
        p.last_name::text as last_name,
        p.sex::text as sex,
        p.birth_date::date as birth_date,
        extract(year from age(u.fy_end, p.birth_date))::int as age_at_fy_end,
        p.home_subdistrict_code::text as home_subdistrict_code,
        p.home_district_code::text as home_district_code
    from unpaid as u
    inner join persons as p on u.national_id = p.national_id
)

select * from final

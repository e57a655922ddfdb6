-- ผู้มีสิทธิ์ที่ยังไม่ได้รับเบี้ย, person by person, for follow-up: persons eligible for an allowance
-- and not paid for September (the last month) of the latest fiscal year, as G.1 and G.2 read them:
--   ELDERLY:    alive at FY end and aged 60 or more at FY end (unknown birth date: not listed);
--   DISABILITY: alive at FY end and holding a disability card valid at FY end
--               (issued_on <= FY end < expires_on);
-- and no current payment of that allowance type for September of the FY. A person eligible for
-- both and paid neither has two rows. RESTRICTED: national ids and names.
with latest_fy as (
    select * from {{ ref('int_fiscal_years') }}
    order by fiscal_year desc
    limit 1
),

persons as (
    select * from {{ ref('person_register') }}
),

cards as (
    select * from {{ ref('stg_msdhs__disability_cards') }}
),

payments as (
    -- the current payments for September of the latest fiscal year (person_key: md5 of the
    -- national id), filtered once here rather than probed per eligible person
    select pay.person_key, pay.allowance_type, pay.period_month
    from {{ ref('fct_allowance_payments') }} as pay
    where pay.period_month = (select make_date(fy.fiscal_year - 543, 9, 1) from latest_fy as fy)
),

elderly as (
    select p.national_id, fy.fiscal_year, fy.fy_end, 'ELDERLY'::text as allowance_type
    from persons as p
    cross join latest_fy as fy
    where p.birth_date is not null
        and extract(year from age(fy.fy_end, p.birth_date)) >= 60
        and (p.died_on is null or p.died_on > fy.fy_end)
),

disabled as (
    select p.national_id, fy.fiscal_year, fy.fy_end, 'DISABILITY'::text as allowance_type
    from persons as p
    cross join latest_fy as fy
    where (p.died_on is null or p.died_on > fy.fy_end)
        and exists (
            select 1 from cards as c
            where c.national_id = p.national_id
                and c.issued_on <= fy.fy_end
                and (c.expires_on is null or c.expires_on > fy.fy_end)
        )
),

eligible as (
    select * from elderly
    union all
    select * from disabled
),

final as (
    select
        e.fiscal_year::int as fiscal_year,
        e.allowance_type::text as allowance_type,
        p.national_id::text as national_id,
        p.first_name::text as first_name,
        p.last_name::text as last_name,
        p.sex::text as sex,
        p.birth_date::date as birth_date,
        extract(year from age(e.fy_end, p.birth_date))::int as age_at_fy_end,
        p.home_subdistrict_code::text as home_subdistrict_code,
        p.home_district_code::text as home_district_code
    from eligible as e
    inner join persons as p on e.national_id = p.national_id
    where not exists (
        select 1 from payments as pay
        where pay.person_key = p.person_key
            and pay.allowance_type = e.allowance_type
            and pay.period_month = make_date(e.fiscal_year - 543, 9, 1)
    )
)

select * from final

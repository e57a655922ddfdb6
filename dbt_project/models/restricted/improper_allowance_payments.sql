-- การจ่ายเบี้ยที่ไม่ถูกต้อง, person by person, for follow-up by the office's staff: every current
-- allowance payment that is improper under G.3, with its reasons (a payment can have several).
-- RESTRICTED: national ids and names.
with payments as (
    select * from {{ ref('int_allowance_payments_flagged') }}
),

persons as (
    select * from {{ ref('int_person_register') }}
),

authorities as (
    select
        lao_code,
        lao_name
    from {{ ref('int_local_authority_areas') }}
),

final as (
    select
        p.payment_id::text as payment_id,
        pe.national_id::text as national_id,
        pe.first_name::text as first_name,
        pe.last_name::text as last_name,
        pe.birth_date::date as birth_date,
        pe.died_on::date as died_on,
        p.lao_code::text as lao_code,
        a.lao_name::text as lao_name,
        p.district_code::text as district_code,
        p.allowance_type::text as allowance_type,
        p.period::text as period,
        p.fiscal_year::int as fiscal_year,
        p.amount::numeric(12, 2) as amount,
        p.paid_on::date as paid_on,
        p.is_paid_after_death::boolean as is_paid_after_death,
        p.is_duplicate::boolean as is_duplicate,
        p.is_underage_elderly::boolean as is_underage_elderly,
        p.improper_reasons::text as improper_reasons
    from payments as p
    inner join persons as pe on p.person_key = pe.person_key
    left join authorities as a on p.lao_code = a.lao_code
    where p.is_improper
)

select * from final

-- Every current allowance payment with its paying authority's district, its fiscal year and the
-- improper-payment flags of kpis.md G.3, read against the person register:
--   paid_after_death:  the period's month starts after died_on (died 2021-06-01: June proper, July not);
--   duplicate_payment: per national_id, allowance_type and period, every payment but the earliest
--                      by paid_on then payment_id;
--   underage_elderly:  an ELDERLY payment to a person under 60 on the first day of the period
--                      (unknown birth date: never underage).
with payments as (
    select * from {{ ref('stg_lao__allowance_payments') }}
),

persons as (
    select national_id, person_key, birth_date, died_on from {{ ref('person_register') }}
),

authorities as (
    select lao_code, district_code from {{ ref('int_lao_authority_districts') }}
),

ranked as (
    select
        p.*,
        row_number() over (
            partition by p.national_id, p.allowance_type, p.period
            order by p.paid_on nulls last, p.payment_id
        ) as rank_in_period
    from payments as p
    where util.national_id_ok(p.national_id)
),

flagged as (
    select
        r.payment_id,
        r.national_id,
        pe.person_key,
        r.lao_code,
        a.district_code,
        r.allowance_type,
        r.period,
        r.period_month,
        (extract(year from r.period_month)::int + 543
         + case when extract(month from r.period_month) >= 10 then 1 else 0 end) as fiscal_year,
        r.amount,
        r.paid_on,
        r.extracted_on,
        coalesce(pe.died_on is not null and r.period_month > pe.died_on, false) as is_paid_after_death,
        r.rank_in_period > 1 as is_duplicate,
        coalesce(
            r.allowance_type = 'ELDERLY' and pe.birth_date is not null
            and extract(year from age(r.period_month, pe.birth_date)) < 60,
            false
        ) as is_underage_elderly,
        md5(coalesce(pe.birth_date::text, '') || '|' || coalesce(pe.died_on::text, '')) as person_state_hash
    from ranked as r
    left join persons as pe on r.national_id = pe.national_id
    left join authorities as a on r.lao_code = a.lao_code
),

final as (
    select
        *,
        (is_paid_after_death or is_duplicate or is_underage_elderly) as is_improper,
        nullif(concat_ws(', ',
            case when is_paid_after_death then 'paid_after_death' end,
            case when is_duplicate then 'duplicate_payment' end,
            case when is_underage_elderly then 'underage_elderly' end
        ), '') as improper_reasons
    from flagged
)

select * from final

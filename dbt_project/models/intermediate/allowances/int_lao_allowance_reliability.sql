-- Per local authority and fiscal year, how reliable its allowance records are (S1.2):
-- payment rows for F = the current valid payments with a period in F, plus the quarantined payment
-- rows whose period is readable and in F and whose payment_id has no current valid version (a
-- quarantined row later replaced by a valid one is counted once, through the valid one);
-- a row is linked when it carries a valid national_id (util.national_id_ok) that is in the register
-- through a current record of another person-bearing extract (not allowance_payments).
with payments as (
    select * from {{ ref('int_allowance_payments_flagged') }}
),

quarantined as (
    select * from {{ ref('stg_audit__quarantined_allowance_payments') }}
),

linked_ids as (
    select distinct national_id
    from {{ ref('int_person_source_records') }}
    where source_name <> 'allowance_payments'
),

authorities as (
    select lao_code, district_code from {{ ref('int_lao_authority_districts') }}
),

valid_rows as (
    select
        lao_code,
        fiscal_year,
        national_id,
        true as is_valid,
        is_duplicate
    from payments
),

quarantined_rows as (
    select
        q.lao_code,
        (extract(year from q.period_month)::int + 543
         + case when extract(month from q.period_month) >= 10 then 1 else 0 end) as fiscal_year,
        q.national_id,
        false as is_valid,
        false as is_duplicate
    from quarantined as q
    where q.period_month is not null
        and q.lao_code is not null
        and (q.payment_id is null or q.payment_id not in (select payment_id from payments))
),

payment_rows as (
    select * from valid_rows
    union all
    select * from quarantined_rows
),

per_authority as (
    select
        r.lao_code,
        r.fiscal_year,
        count(*) filter (where r.is_valid) as valid_payments,
        count(*) as payment_rows,
        count(*) filter (
            where r.national_id is not null
                and util.national_id_ok(r.national_id)
                and r.national_id in (select national_id from linked_ids)
        ) as linked_rows,
        count(*) filter (where r.is_duplicate) as duplicate_payments
    from payment_rows as r
    group by r.lao_code, r.fiscal_year
),

final as (
    select
        p.lao_code,
        a.district_code,
        p.fiscal_year,
        p.valid_payments,
        p.payment_rows,
        p.linked_rows,
        p.duplicate_payments,
        (
            p.valid_payments >= 1
            and p.linked_rows::numeric >= 0.99 * p.payment_rows
            and p.duplicate_payments = 0
        ) as is_reliable
    from per_authority as p
    left join authorities as a on p.lao_code = a.lao_code
)

select * from final

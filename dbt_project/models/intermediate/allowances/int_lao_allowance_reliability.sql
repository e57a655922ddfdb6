{#- A table, so its scan of the payments runs with parallel workers (CREATE TABLE AS), never inside
    kpi_values' INSERT. -#}
{{ config(materialized='table') }}
-- Per local authority and fiscal year, how reliable its allowance records are (S1.2):
-- payment rows for F = the current valid payments with a period in F, plus the quarantined payment
-- rows whose period is readable and in F and whose payment_id has no current valid version (a
-- quarantined row later replaced by a valid one is counted once, through the valid one);
-- a row is linked when it carries a valid national_id (util.national_id_ok) that is in the register
-- through a current record of another person-bearing extract (not allowance_payments).
-- Reads the flags (is_linked among them) from int_allowance_payments_flagged rather than
-- recomputing them.
with payments as (
    select
        payment_id,
        lao_code,
        fiscal_year,
        is_linked,
        is_duplicate
    from {{ ref('int_allowance_payments_flagged') }}
),

quarantined as (
    select * from {{ ref('stg_audit__quarantined_allowance_payments') }}
),

linked_persons as (
    select person_key
    from {{ ref('int_person_register') }}
    where exists (
        select 1 from unnest(sources) as s (source_name)
        where s.source_name <> 'allowance_payments'
    )
),

authorities as (
    select
        lao_code,
        district_code
    from {{ ref('int_local_authority_areas') }}
),

valid_counts as (
    -- aggregated before anything is joined to it: a parallel hash aggregate over every payment
    select
        p.lao_code,
        p.fiscal_year,
        count(*) as valid_payments,
        count(*) filter (where p.is_linked) as linked_rows,
        count(*) filter (where p.is_duplicate) as duplicate_payments
    from payments as p
    group by p.lao_code, p.fiscal_year
),

quarantined_rows as (
    select
        q.lao_code,
        {{ fiscal_year_of('q.period_month') }} as fiscal_year,
        coalesce(
            q.national_id is not null
            and util.national_id_ok(q.national_id)
            and exists (
                select 1 from linked_persons as l
                where l.person_key = {{ person_key('q.national_id') }}
            ),
            false
        ) as is_linked
    from quarantined as q
    where
        q.period_month is not null
        and q.lao_code is not null
        -- the table itself, not the CTE: one primary-key probe per quarantined row
        and not exists (
            select 1 from {{ ref('int_allowance_payments_flagged') }} as p
            where p.payment_id = q.payment_id
        )
),

quarantined_counts as (
    select
        lao_code,
        fiscal_year,
        count(*) as quarantined_rows,
        count(*) filter (where is_linked) as linked_rows
    from quarantined_rows
    group by lao_code, fiscal_year
),

per_authority as (
    select
        coalesce(v.lao_code, q.lao_code) as lao_code,
        coalesce(v.fiscal_year, q.fiscal_year) as fiscal_year,
        coalesce(v.valid_payments, 0) as valid_payments,
        coalesce(v.valid_payments, 0) + coalesce(q.quarantined_rows, 0) as payment_rows,
        coalesce(v.linked_rows, 0) + coalesce(q.linked_rows, 0) as linked_rows,
        coalesce(v.duplicate_payments, 0) as duplicate_payments
    from valid_counts as v
    full outer join quarantined_counts as q
        on v.lao_code = q.lao_code and v.fiscal_year = q.fiscal_year
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

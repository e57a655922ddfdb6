{{ config(
    materialized='incremental',
    unique_key='national_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=[
        "{{ index_on('through_load_id') }}",
        "create unique index if not exists {{ this.identifier }}__national_id on {{ this }} (national_id)",
        "{{ index_on('payment_id') }}",
    ],
) }}
-- Every person a current allowance payment names (any national id; the register keeps valid ones), with the latest of
-- their payments (period_month, then the lower payment_id): the allowance_payments records of the
-- person register, a table of one row per person where int_allowance_payments_current has one
-- per payment.
-- Incremental: a nightly run recomputes only the persons named by a payment written to
-- int_allowance_payments_current since this table's watermark (through_load_id, the newest load
-- that table held when a row was written), and the persons whose latest payment was rewritten
-- (a correction may have moved it to someone else). A person left with no payment keeps a row
-- with a null payment_id; readers skip it.
{% if is_incremental() %}
with rewritten as (
    select
        payment_id,
        national_id
    from {{ ref('int_allowance_payments_current') }}
    where
        national_id is not null
        and load_id > (select coalesce(max(w.through_load_id), 0) from {{ this }} as w)
),

affected as (
    select national_id from rewritten
    union
    -- = any(array(...)): one primary-key probe per rewritten payment
    select t.national_id from {{ this }} as t
    where t.payment_id = any(array(select r.payment_id from rewritten as r))
),

latest as (
    select distinct on (a.national_id)
        a.national_id,
        p.payment_id,
        p.period_month,
        p.extracted_on
    from affected as a
    left join {{ ref('int_allowance_payments_current') }} as p
        on p.person_key = {{ person_key('a.national_id') }} and a.national_id = p.national_id
    order by a.national_id asc, p.period_month desc nulls last, p.payment_id asc
),
{% else %}
with latest as (
    select distinct on (national_id)
        national_id,
        payment_id,
        period_month,
        extracted_on
    from {{ ref('int_allowance_payments_current') }}
    where national_id is not null
    order by national_id asc, period_month desc, payment_id asc
),
{% endif %}

final as (
    select
        national_id::text as national_id,
        payment_id::text as payment_id,
        period_month::date as period_month,
        extracted_on::date as extracted_on,
        (select max(c.load_id) from {{ ref('int_allowance_payments_current') }} as c)::bigint as through_load_id
    from latest
)

select * from final

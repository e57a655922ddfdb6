{{ config(
    materialized='incremental',
    unique_key='payment_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=["{{ index_on('load_id') }}"],
) }}
-- depends_on: {{ ref('int_person_register') }}
-- depends_on: {{ ref('int_local_authority_areas') }}
-- เบี้ยยังชีพ: one row per allowance payment (current version of each payment_id), with the
-- improper-payment flags of G.3 (macros/allowance_payment_flags.sql); marts.fct_allowance_payments
-- publishes it. Incremental: a nightly run re-flags every payment of the persons it must, and
-- only those (a person's payments are flagged together: a duplicate is decided among them):
--   * persons with a payment written to int_allowance_payments_current since this table's latest
--     load (new payments and corrections), and the person a corrected payment belonged to before;
--   * persons whose birth date, died_on or linkage (is_linked) in the register changed since
--     their payments were written (person_state_hash differs);
--   * persons paid by an authority whose district changed.
{% if is_incremental() %}
with new_payments as (
    select
        payment_id,
        person_key
    from {{ ref('int_allowance_payments_current') }}
    where load_id > (select coalesce(max(w.load_id), 0) from {{ this }} as w)
),

written as (
    -- one scan of the table: each person's state hash and authorities as last written
    select distinct
        person_key,
        person_state_hash,
        lao_code,
        district_code
    from {{ this }}
),

authorities as (
    select
        lao_code,
        district_code
    from {{ ref('int_local_authority_areas') }}
),

affected_persons as (
    select person_key from new_payments
    union
    -- = any(array(...)): an index probe per new payment, whatever the planner guesses of its count
    select t.person_key from {{ this }} as t
    where t.payment_id = any(array(select n.payment_id from new_payments as n))
    union
    select w.person_key
    from written as w
    inner join {{ ref('int_person_register') }} as p on w.person_key = p.person_key
    where w.person_state_hash is distinct from {{ person_state_hash('p') }}
    union
    select w.person_key
    from written as w
    left join authorities as a on w.lao_code = a.lao_code
    where w.district_code is distinct from a.district_code
),

payments as (
    select *
    from {{ ref('int_allowance_payments_current') }}
    where person_key = any(array(select a.person_key from affected_persons as a))
),
{% else %}
with payments as (
    select * from {{ ref('int_allowance_payments_current') }}
),
{% endif %}

{{ allowance_payment_flags('payments') }},

final as (
    select
        payment_id::text as payment_id,
        person_key::text as person_key,
        lao_code::text as lao_code,
        district_code::text as district_code,
        allowance_type::text as allowance_type,
        period::text as period,
        period_month::date as period_month,
        fiscal_year::int as fiscal_year,
        amount::numeric(12, 2) as amount,
        paid_on::date as paid_on,
        extracted_on::date as extracted_on,
        load_id::bigint as load_id,
        is_paid_after_death::boolean as is_paid_after_death,
        is_duplicate::boolean as is_duplicate,
        is_underage_elderly::boolean as is_underage_elderly,
        is_improper::boolean as is_improper,
        is_linked::boolean as is_linked,
        improper_reasons::text as improper_reasons,
        person_state_hash::text as person_state_hash
    from flagged
)

select * from final

{{ config(
    materialized='incremental',
    unique_key='payment_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=["{{ load_id_index() }}", "{{ index_on('person_key') }}"],
) }}
-- The current version of every allowance payment: the rows of stg_lao__allowance_payments, kept
-- as a table (13 M rows at full scale) so that nobody sorts the whole increment again each night.
-- Full build: the staging view. Incremental: only the raw partitions loaded since the table's
-- latest load (macros/new_deliveries.sql; none read on a night without a delivery), the latest
-- version per payment_id among them, and only where it is newer (extract date, then load) than the
-- version the table holds: a late re-send of an older drop does not undo a correction.
-- person_key: md5 of the national id (a keyed pseudonym comes with the privacy issue).
{% if is_incremental() %}
with delivered as (
    select distinct on (r.payment_id) r.*
    from {{ source('lao', 'lao__allowance_payments') }} as r
    where {{ newer_deliveries('lao', 'allowance_payments', this, on='r._load_id') }}
    order by r.payment_id, r._extract_date desc, r._load_id desc, r._row_no desc
),

payments as (
    select
        d.payment_id,
        d.lao_code,
        d.national_id,
        d.allowance_type,
        d.period,
        to_date(d.period, 'YYYY-MM') as period_month,
        d.amount,
        d.paid_on,
        d._extract_date as extracted_on,
        d._load_id as load_id
    from delivered as d
    where not exists (
        select 1 from {{ this }} as t
        where t.payment_id = d.payment_id
            and (t.extracted_on, t.load_id) > (d._extract_date, d._load_id)
    )
),
{% else %}
with payments as (
    select * from {{ ref('stg_lao__allowance_payments') }}
),
{% endif %}

final as (
    select
        payment_id::text as payment_id,
        lao_code::text as lao_code,
        national_id::text as national_id,
        md5(national_id)::text as person_key,
        allowance_type::text as allowance_type,
        period::text as period,
        period_month::date as period_month,
        amount::numeric(12, 2) as amount,
        paid_on::date as paid_on,
        extracted_on::date as extracted_on,
        load_id::bigint as load_id
    from payments
)

select * from final

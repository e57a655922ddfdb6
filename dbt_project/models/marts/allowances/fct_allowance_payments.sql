{{ config(
    materialized='incremental',
    unique_key='payment_id',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}
-- depends_on: {{ ref('person_register') }}
-- depends_on: {{ ref('int_lao_authority_districts') }}
-- เบี้ยยังชีพ: one row per allowance payment (current version of each payment_id), with the
-- improper-payment flags of G.3. Incremental: a nightly run rewrites only
--   * the payments delivered on or after the latest extract date already in the table
--     (new payments and corrections re-sending a key),
--   * every payment of a person who has such a new payment (it may make an older one a duplicate
--     or be one),
--   * every payment of a person whose birth date or died_on in the register changed since the
--     payment was written (person_state_hash differs),
--   * every payment of an authority whose district changed.
-- No national id or name: person_key (md5 of the national id for now; the privacy issue replaces
-- it with a keyed pseudonym).
with flagged as (
    select * from {{ ref('int_allowance_payments_flagged') }}
),

{% if is_incremental() %}
watermark as (
    select coalesce(max(extracted_on), '1900-01-01'::date) as extracted_on from {{ this }}
),

new_payments as (
    select f.national_id
    from flagged as f
    where f.extracted_on >= (select extracted_on from watermark)
),

changed_persons as (
    select distinct t.person_key
    from {{ this }} as t
    inner join {{ ref('person_register') }} as p on t.person_key = p.person_key
    where t.person_state_hash
        <> md5(coalesce(p.birth_date::text, '') || '|' || coalesce(p.died_on::text, ''))
),

changed_authorities as (
    select distinct t.lao_code
    from {{ this }} as t
    left join {{ ref('int_lao_authority_districts') }} as a on t.lao_code = a.lao_code
    where t.district_code is distinct from a.district_code
),

selected as (
    select f.*
    from flagged as f
    where f.extracted_on >= (select extracted_on from watermark)
        or f.national_id in (select national_id from new_payments)
        or f.person_key in (select person_key from changed_persons)
        or f.lao_code in (select lao_code from changed_authorities)
),
{% else %}
selected as (
    select * from flagged
),
{% endif %}

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
        is_paid_after_death::boolean as is_paid_after_death,
        is_duplicate::boolean as is_duplicate,
        is_underage_elderly::boolean as is_underage_elderly,
        is_improper::boolean as is_improper,
        improper_reasons::text as improper_reasons,
        person_state_hash::text as person_state_hash
    from selected
)

select * from final

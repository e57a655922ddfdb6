{{ config(materialized='view') }}
-- เบี้ยยังชีพ: one row per allowance payment (current version of each payment_id), with the
-- paying authority's district, the fiscal year and the improper-payment flags of G.3: the
-- published face of int_allowance_payments_flagged, which keeps them incrementally. No national id
-- or name: person_key (macros/person_key.sql), and nothing derived from the
-- exact birth or death date (intermediate keeps the hash its incremental runs compare).
with payments as (
    select * from {{ ref('int_allowance_payments_flagged') }}
),

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
        improper_reasons::text as improper_reasons
    from payments
)

select * from final

{{ config(materialized='table') }}
-- Every person-bearing record of every extract's current state, one row per (source, record),
-- with what that record says about the person. Only national ids that pass util.national_id_ok
-- are kept: a record with an invalid id never links to anyone.
-- source_rank is the precedence of kpis.md (1 wins); within a source the most recent record wins
-- (recency desc), ties by the lower record_key.
with target_persons as (
    select * from {{ ref('stg_msdhs__target_persons') }}
),

bmn_records as (
    -- BMN members and household heads, kept in a table rewritten only when the survey is
    -- delivered (int_bmn_person_records)
    select * from {{ ref('int_bmn_person_records') }}
),

disability_cards as (
    select * from {{ ref('stg_msdhs__disability_cards') }}
),

volunteers as (
    select * from {{ ref('stg_msdhs__volunteers') }}
),

welfare_services as (
    select * from {{ ref('stg_msdhs__welfare_services') }}
),

allowance_payments as (
    -- the same rows as stg_lao__allowance_payments, materialized (13 M rows at full scale)
    select * from {{ ref('int_allowance_payments_current') }}
),

from_target_persons as (
    select
        'target_persons'::text as source_name,
        1 as source_rank,
        national_id,
        national_id::text as record_key,
        registered_on as recency,
        sex::text as sex,
        birth_date,
        subdistrict_code::text as subdistrict_code,
        died_on,
        target_groups::text[] as target_groups,
        first_name::text as first_name,
        last_name::text as last_name,
        extracted_on
    from target_persons
),

from_disability_cards as (
    select
        'disability_cards'::text as source_name,
        3 as source_rank,
        national_id,
        card_no::text as record_key,
        issued_on as recency,
        null::text as sex,
        null::date as birth_date,
        null::text as subdistrict_code,
        null::date as died_on,
        null::text[] as target_groups,
        null::text as first_name,
        null::text as last_name,
        extracted_on
    from disability_cards
),

from_volunteers as (
    select
        'volunteers'::text as source_name,
        4 as source_rank,
        national_id,
        volunteer_id::text as record_key,
        registered_on as recency,
        null::text as sex,
        null::date as birth_date,
        subdistrict_code::text as subdistrict_code,
        null::date as died_on,
        null::text[] as target_groups,
        null::text as first_name,
        null::text as last_name,
        extracted_on
    from volunteers
),

from_welfare_services as (
    select
        'welfare_services'::text as source_name,
        5 as source_rank,
        national_id,
        service_id::text as record_key,
        delivered_on as recency,
        null::text as sex,
        null::date as birth_date,
        subdistrict_code::text as subdistrict_code,
        null::date as died_on,
        null::text[] as target_groups,
        null::text as first_name,
        null::text as last_name,
        extracted_on
    from welfare_services
),

from_allowance_payments as (
    -- payments say nothing about the person but that they exist (no address, sex or birth date)
    select distinct on (national_id)
        'allowance_payments'::text as source_name,
        6 as source_rank,
        national_id,
        payment_id::text as record_key,
        period_month as recency,
        null::text as sex,
        null::date as birth_date,
        null::text as subdistrict_code,
        null::date as died_on,
        null::text[] as target_groups,
        null::text as first_name,
        null::text as last_name,
        extracted_on
    from allowance_payments
    order by national_id, period_month desc, payment_id
),

unioned as (
    select * from from_target_persons
    union all
    select
        source_name, source_rank, national_id, record_key, recency, sex, birth_date, subdistrict_code,
        died_on, target_groups, first_name, last_name, extracted_on
    from bmn_records
    union all
    select * from from_disability_cards
    union all
    select * from from_volunteers
    union all
    select * from from_welfare_services
    union all
    select * from from_allowance_payments
),

final as (
    select *
    from unioned
    where national_id is not null
        and util.national_id_ok(national_id)
)

select * from final

{{ config(materialized='table') }}
-- Every person-bearing record of the current state of the registries that arrive nightly
-- (target_persons, disability_cards, volunteers, welfare_services, allowance_payments), one row
-- per (source, record), with what that record says about the person. The BMN survey's records
-- (rank 2) are summed up per person in int_bmn_persons and int_bmn_person_nights, rebuilt only
-- when the survey is delivered. Only national ids that pass util.national_id_ok
-- are kept: a record with an invalid id never links to anyone.
-- source_rank is the precedence of kpis.md (1 wins); within a source the most recent record wins
-- (recency desc), ties by the lower record_key.
with target_persons as (
    select * from {{ ref('stg_msdhs__target_persons') }}
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

payees as (
    select * from {{ ref('int_allowance_payees') }}
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
    -- payments say nothing about the person but that they exist (no address, sex or birth date):
    -- one row per person, their latest payment (int_allowance_payees)
    select
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
    from payees
    where payment_id is not null
),

unioned as (
    select * from from_target_persons
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
    where
        national_id is not null
        and util.national_id_ok(national_id)
)

select * from final

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ empty_on_survey_delivery() }}"],
    post_hook=["{{ index_on('load_id') }}", "create unique index if not exists {{ this.identifier }}__record on {{ this }} (source_name collate \"C\", record_key collate \"C\", national_id collate \"C\") where util.national_id_ok(national_id)"],
) }}
-- The person-bearing records of the BMN survey's current state (members, and household heads),
-- summed up per person by int_bmn_persons and int_bmn_person_nights. The survey is
-- delivered once a round, so this table is rewritten whole on the first build after a delivery
-- of bmn_members or bmn_households (the pre-hook empties it) and left alone on other nights.
-- load_id: the delivery each row came from. Personal data.
with bmn_members as (
    select * from {{ ref('stg_cdd__bmn_members') }}
),

bmn_households as (
    select * from {{ ref('stg_cdd__bmn_households') }}
),

from_bmn_members as (
    select
        'bmn_members'::text as source_name,
        2 as source_rank,
        m.national_id,
        m.survey_year::text || '/' || m.household_code as record_key,
        make_date(m.survey_year - 543, 1, 1) as recency,
        m.sex::text as sex,
        m.birth_date,
        h.subdistrict_code::text as subdistrict_code,
        null::date as died_on,
        null::text[] as target_groups,
        m.first_name::text as first_name,
        m.last_name::text as last_name,
        m.extracted_on,
        m.load_id
    from bmn_members as m
    left join bmn_households as h
        on m.survey_year = h.survey_year and m.household_code = h.household_code
),

from_bmn_household_heads as (
    -- a head ranks with the BMN members (same survey, same household village)
    select
        'bmn_households'::text as source_name,
        2 as source_rank,
        head_national_id as national_id,
        survey_year::text || '/' || household_code as record_key,
        make_date(survey_year - 543, 1, 1) as recency,
        null::text as sex,
        null::date as birth_date,
        subdistrict_code::text as subdistrict_code,
        null::date as died_on,
        null::text[] as target_groups,
        null::text as first_name,
        null::text as last_name,
        extracted_on,
        load_id
    from bmn_households
),

unioned as (
    select * from from_bmn_members
    union all
    select * from from_bmn_household_heads
)

select * from unioned
{% if survey_unchanged() %}
where false
{% endif %}

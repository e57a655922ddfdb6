-- สมาชิกครัวเรือน จปฐ.: one row per BMN survey year, household and member (current state), the
-- member as a person_key (macros/person_key.sql). No national id, name or birth date:
-- age at the survey's start (1 January of the survey year) in whole years instead.
{{ config(
    materialized='incremental',
    unique_key=['survey_year', 'household_code', 'person_key'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() and newer_deliveries('cdd', 'bmn_members', this) != 'false' %}delete from {{ this }} as f where not exists (select 1 from {{ ref('stg_cdd__bmn_members') }} as s where s.survey_year = f.survey_year and s.household_code = f.household_code and {{ person_key('s.national_id') }} = f.person_key){% else %}select 1{% endif %}",
    ],
    post_hook=["{{ index_on('load_id') }}"],
) }}
-- Incremental like fct_bmn_indicator_results: the survey arrives once a round, so a nightly run
-- writes only deliveries newer than the table's latest load, and reads nothing without one.
with members as (
    select * from {{ ref('stg_cdd__bmn_members') }}
    {% if is_incremental() %}
    where {{ newer_deliveries('cdd', 'bmn_members', this) }}
    {% endif %}
),

final as (
    select
        survey_year::int as survey_year,
        household_code::text as household_code,
        {{ person_key('national_id') }}::text as person_key,
        sex::text as sex,
        extract(year from age(make_date(survey_year - 543, 1, 1), birth_date))::int as age_at_survey,
        relation::text as relation,
        disabled::boolean as disabled,
        load_id::bigint as load_id
    from members
)

select * from final

{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ empty_on_survey_delivery() }}"],
    post_hook=["{{ index_on('load_id') }}"],
) }}
-- G.4's poor households of every survey year, with the national ids of their members: a
-- household of the current survey state is poor when members >= 1 and annual_income / members
-- < 38,000 baht; its members are the current bmn_members rows of that household and survey year.
-- A small part of the survey's households and members, kept so that
-- int_bmn_poor_households_served does not read the survey every night. Rewritten whole on the
-- first build after a delivery of bmn_members or bmn_households (the pre-hook empties it), left
-- alone on other nights. load_id: the newest delivery its rows came from. Personal data.
with households as (
    select * from {{ ref('stg_cdd__bmn_households') }}
    {% if survey_unchanged() %}where false{% endif %}
),

members as (
    select * from {{ ref('stg_cdd__bmn_members') }}
    {% if survey_unchanged() %}where false{% endif %}
),

poor as (
    select *
    from households
    where
        members >= 1
        and annual_income / members < 38000
),

poor_members as (
    select
        m.survey_year,
        m.household_code,
        array_agg(m.national_id order by m.national_id) filter (where m.national_id is not null) as member_national_ids,
        max(m.load_id) as load_id
    from members as m
    where
        exists (
            select 1 from poor as p
            where p.survey_year = m.survey_year and p.household_code = m.household_code
        )
    group by m.survey_year, m.household_code
)

select
    p.survey_year::int as survey_year,
    p.household_code::text as household_code,
    p.village_code::text as village_code,
    p.subdistrict_code::text as subdistrict_code,
    p.district_code::text as district_code,
    p.head_national_id::text as head_national_id,
    p.members::int as members,
    p.annual_income::numeric as annual_income,
    coalesce(pm.member_national_ids, array[]::text[])::text[] as member_national_ids,
    greatest(p.load_id, pm.load_id)::bigint as load_id
from poor as p
left join poor_members as pm
    on p.survey_year = pm.survey_year and p.household_code = pm.household_code

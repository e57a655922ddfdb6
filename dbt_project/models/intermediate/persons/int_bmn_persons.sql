{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ empty_on_survey_delivery() }}"],
    post_hook=["{{ index_on('load_id') }}", "create unique index if not exists {{ this.identifier }}__national_id on {{ this }} (national_id)"],
) }}
-- What the BMN survey says about each person (valid national ids only), as the person register
-- reads it: one row per person in place of the member and household-head records of
-- int_bmn_person_records. BMN records all rank 2 in kpis.md's precedence, so the
-- register's choice among them is made here, once per survey delivery, with the register's own
-- order within a rank (latest recency, then the lower record_key, then source_name):
--   first_name, last_name, sex, birth_date: the first non-null value among the person's records
--     (only member records carry them);
--   home_subdistrict_code / home_subdistrict_source: the first non-null subdistrict among member
--     and household-head records, and which of the two it came from;
--   member_sexes, member_birth_dates: every distinct value the member records give, for the
--     register's conflict flags (target_persons against bmn_members);
--   sources: which BMN extracts hold the person.
-- Rewritten whole on the first build after a delivery of bmn_members or bmn_households (the
-- pre-hook empties it), left alone on other nights. Personal data.
{%- set order = 'recency desc nulls last, record_key, source_name' %}
with records as (
    select *
    from {{ ref('int_bmn_person_records') }}
    where
        national_id is not null
        and util.national_id_ok(national_id){% if survey_unchanged() %} and false{% endif %}
),

persons as (
    select
        national_id,
        {%- for f in ['first_name', 'last_name', 'sex', 'birth_date'] %}
        {{ first_present(f, order) }} as {{ f }},
        {%- endfor %}
        {{ first_present('subdistrict_code', order) }} as home_subdistrict_code,
        {{ first_present('source_name', order, present='subdistrict_code') }} as home_subdistrict_source,
        array_agg(distinct sex order by sex)
        filter (where source_name = 'bmn_members' and sex is not null) as member_sexes,
        array_agg(distinct birth_date order by birth_date)
        filter (where source_name = 'bmn_members' and birth_date is not null) as member_birth_dates,
        array_agg(distinct source_name order by source_name) as sources,
        max(load_id) as load_id
    from records
    group by national_id
)

select
    national_id::text as national_id,
    first_name::text as first_name,
    last_name::text as last_name,
    sex::text as sex,
    birth_date::date as birth_date,
    home_subdistrict_code::text as home_subdistrict_code,
    home_subdistrict_source::text as home_subdistrict_source,
    coalesce(member_sexes, array[]::text[])::text[] as member_sexes,
    coalesce(member_birth_dates, array[]::date[])::date[] as member_birth_dates,
    sources::text[] as sources,
    load_id::bigint as load_id
from persons

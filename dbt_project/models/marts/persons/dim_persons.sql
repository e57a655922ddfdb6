-- บุคคล: the person register as analysts see it, one row per person_key (the keyed
-- pseudonym: HMAC-SHA-256 of the national id, macros/person_key.sql). Analyst tier only. No national id, name or exact
-- dates: birth year and death year (Common Era) instead.
with persons as (
    select * from {{ ref('int_person_register') }}
),

final as (
    select
        person_key::text as person_key,
        sex::text as sex,
        extract(year from birth_date)::int as birth_year,
        home_subdistrict_code::text as home_subdistrict_code,
        home_district_code::text as home_district_code,
        is_dead::boolean as is_dead,
        extract(year from died_on)::int as death_year,
        sources::text[] as sources,
        target_groups::text[] as target_groups,
        has_sex_conflict::boolean as has_sex_conflict,
        has_birth_date_conflict::boolean as has_birth_date_conflict,
        is_complete_and_consistent::boolean as is_complete_and_consistent
    from persons
)

select * from final

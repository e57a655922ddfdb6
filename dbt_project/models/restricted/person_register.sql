{{ config(materialized='view') }}
-- ทะเบียนบุคคลกลาง: the person register (int_person_register), one row per valid national id of any
-- person-bearing extract with its golden record, for the office's staff.
-- RESTRICTED: national ids and names.
with persons as (
    select * from {{ ref('int_person_register') }}
),

final as (
    select
        national_id::text as national_id,
        person_key::text as person_key,
        first_name::text as first_name,
        last_name::text as last_name,
        sex::text as sex,
        birth_date::date as birth_date,
        home_subdistrict_code::text as home_subdistrict_code,
        home_district_code::text as home_district_code,
        home_subdistrict_source::text as home_subdistrict_source,
        died_on::date as died_on,
        is_dead::boolean as is_dead,
        sources::text[] as sources,
        target_groups::text[] as target_groups,
        has_sex_conflict::boolean as has_sex_conflict,
        has_birth_date_conflict::boolean as has_birth_date_conflict,
        is_complete_and_consistent::boolean as is_complete_and_consistent
    from persons
)

select * from final

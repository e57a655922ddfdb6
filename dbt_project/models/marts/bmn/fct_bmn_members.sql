-- สมาชิกครัวเรือน จปฐ.: one row per BMN survey year, household and member (current state), the
-- member as a person_key (md5 of the national id for now). No national id, name or birth date:
-- age at the survey's start (1 January of the survey year) in whole years instead.
with members as (
    select * from {{ ref('stg_cdd__bmn_members') }}
),

final as (
    select
        survey_year::int as survey_year,
        household_code::text as household_code,
        md5(national_id)::text as person_key,
        sex::text as sex,
        extract(year from age(make_date(survey_year - 543, 1, 1), birth_date))::int as age_at_survey,
        relation::text as relation,
        disabled::boolean as disabled
    from members
)

select * from final

-- ครัวเรือน จปฐ.: one row per BMN survey year and household (current state), with income per head
-- and the poverty line of G.4 (annual_income / members < 38,000 baht, members >= 1). The head is
-- a person_key (macros/person_key.sql). No national id or name.
{{ config(
    materialized='incremental',
    unique_key=['survey_year', 'household_code'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() and newer_deliveries('cdd', 'bmn_households', this) != 'false' %}delete from {{ this }} as f where not exists (select 1 from {{ ref('stg_cdd__bmn_households') }} as s where s.survey_year = f.survey_year and s.household_code = f.household_code){% else %}select 1{% endif %}",
    ],
    post_hook=["{{ index_on('load_id') }}"],
) }}
-- Incremental like fct_bmn_indicator_results: the survey arrives once a round, so a nightly run
-- writes only deliveries newer than the table's latest load, and reads nothing without one.
with households as (
    select * from {{ ref('stg_cdd__bmn_households') }}
    {% if is_incremental() %}
    where {{ newer_deliveries('cdd', 'bmn_households', this) }}
    {% endif %}
),

final as (
    select
        survey_year::int as survey_year,
        household_code::text as household_code,
        village_code::text as village_code,
        subdistrict_code::text as subdistrict_code,
        district_code::text as district_code,
        {{ person_key('head_national_id') }}::text as head_person_key,
        members::int as members,
        annual_income::numeric(14, 2) as annual_income,
        (case when members >= 1 then round(annual_income / members, 2) end)::numeric(14, 2) as income_per_head,
        (members >= 1 and annual_income / nullif(members, 0) < 38000)::boolean as is_poor,
        load_id::bigint as load_id
    from households
)

select * from final

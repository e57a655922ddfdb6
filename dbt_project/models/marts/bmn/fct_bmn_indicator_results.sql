{{ config(
    materialized='incremental',
    unique_key=['survey_year', 'household_code', 'indicator_no'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    pre_hook=[
        "{% if is_incremental() and newer_deliveries('cdd', 'bmn_indicators', this) != 'false' %}delete from {{ this }} as f where not exists (select 1 from {{ ref('stg_cdd__bmn_indicators') }} as s where s.survey_year = f.survey_year and s.household_code = f.household_code and s.indicator_no = f.indicator_no){% else %}select 1{% endif %}",
    ],
    post_hook=["{{ index_on('load_id') }}"],
) }}
-- ผลการสำรวจ จปฐ. รายตัวชี้วัด: one row per BMN survey year, household and indicator (31 a
-- household), the current state of the survey. Incremental (the largest table of all): a nightly
-- run only writes the rows of deliveries newer than the latest load already in the table, and
-- reads nothing on the nights without one (macros/new_deliveries.sql); when a newer delivery
-- arrived, a pre-hook first removes the keys it no longer carries (deleted at the source).
-- The district is the household's village's district.
with results as (
    select * from {{ ref('stg_cdd__bmn_indicators') }}
    {% if is_incremental() %}
    where {{ newer_deliveries('cdd', 'bmn_indicators', this) }}
    {% endif %}
),

households as (
    select
        survey_year,
        household_code,
        village_code,
        district_code
    from {{ ref('stg_cdd__bmn_households') }}
),

final as (
    select
        r.survey_year::int as survey_year,
        r.household_code::text as household_code,
        r.indicator_no::int as indicator_no,
        r.result::text as result,
        (r.result = 'ผ่าน')::boolean as is_passed,
        h.village_code::text as village_code,
        h.district_code::text as district_code,
        r.load_id::bigint as load_id,
        r.extracted_on::date as extracted_on
    from results as r
    left join households as h
        on r.survey_year = h.survey_year and r.household_code = h.household_code
)

select * from final

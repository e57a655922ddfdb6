{{ config(materialized='view') }}
-- Current state of the BMN households (snapshot): one row per (survey_year, household_code).
with current_rows as (
    {{ current_state('cdd', 'bmn_households', ['survey_year', 'household_code'], 'snapshot') }}
),

final as (
    select
        survey_year::int as survey_year,
        household_code,
        village_code,
        left(village_code, 6) as subdistrict_code,
        left(village_code, 4) as district_code,
        house_no,
        head_national_id,
        members::int as members,
        annual_income,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

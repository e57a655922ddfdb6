{{ config(materialized='view') }}
-- Current state of the BMN household members (snapshot): one row per (survey_year, household_code, national_id).
with current_rows as (
    {{ current_state('cdd', 'bmn_members', ['survey_year', 'household_code', 'national_id'], 'snapshot') }}
),

final as (
    select
        survey_year::int as survey_year,
        household_code,
        national_id,
        first_name,
        last_name,
        sex,
        birth_date,
        relation,
        disabled,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

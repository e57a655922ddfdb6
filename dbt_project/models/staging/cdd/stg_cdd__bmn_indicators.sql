{{ config(materialized='view') }}
-- Current state of the BMN indicator results (snapshot): one row per (survey_year, household_code, indicator_no).
with current_rows as (
    {{ current_state('cdd', 'bmn_indicators', ['survey_year', 'household_code', 'indicator_no'], 'snapshot') }}
),

final as (
    select
        survey_year::int as survey_year,
        household_code,
        indicator_no::int as indicator_no,
        result,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

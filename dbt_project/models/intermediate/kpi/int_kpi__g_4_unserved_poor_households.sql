-- G.4 ครัวเรือนยากจนที่ยังไม่ได้รับการดูแล
-- Poor households of the latest survey year <= F that nobody serves (int_bmn_poor_households_served).
-- District by the household's village. Item = (survey year, household code).
with households as (
    select * from {{ ref('int_bmn_poor_households_served') }}
),

counted as (
    select
        h.fiscal_year,
        h.district_code,
        h.survey_year::text || '/' || h.household_code as item_id
    from households as h
    where not h.is_served
),

{{ kpi_count_rows('G.4', 'counted') }}

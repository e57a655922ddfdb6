{{ config(materialized='view') }}
-- S1.1's measurement of the warehouse after each run, per drop date and area: the published face of
-- int_person_register_measurements (the history of runs), as int_person_register_measurements_latest
-- gives it: the published builds' measurements only.
with measurements as (
    select * from {{ ref('int_person_register_measurements_latest') }}
),

final as (
    select
        drop_date::date as drop_date,
        fiscal_year::int as fiscal_year,
        area_code::text as area_code,
        persons::bigint as persons,
        complete_persons::bigint as complete_persons,
        pct_complete::numeric as pct_complete
    from measurements
)

select * from final

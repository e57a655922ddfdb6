-- S1.1 ฐานข้อมูลกลางถูกต้อง ทันสมัย ครบถ้วน
-- The value of fiscal year F is the measurement (int_person_register_measurements_latest: the
-- published runs' and this build's) of the latest run whose drop date falls in F; years no run
-- measured are NULL, and so is an area with no persons.
with measurements as (
    select * from {{ ref('int_person_register_measurements_latest') }}
),

latest_of_year as (
    select distinct on (fiscal_year, area_code)
        fiscal_year,
        area_code,
        pct_complete
    from measurements
    order by fiscal_year asc, area_code asc, drop_date desc
),

{{ kpi_spine() }},

final as (
    select
        'S1.1'::text as kpi_code,
        spine.fiscal_year,
        spine.area_code,
        m.pct_complete::numeric as value
    from spine
    left join latest_of_year as m
        on spine.fiscal_year = m.fiscal_year and spine.area_code = m.area_code
)

select * from final

-- Thai government fiscal years reported on (Buddhist Era), with their Common-Era window:
-- FY F runs (F-544)-10-01 .. (F-543)-09-30.
with fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

final as (
    select
        fiscal_year::int as fiscal_year,
        (fiscal_year - 543)::int as fiscal_year_ce,
        fy_start::date as fy_start,
        fy_end::date as fy_end,
        ('ปีงบประมาณ ' || fiscal_year)::text as label_th,
        (
            'FY ' || fiscal_year || ' (' || to_char(fy_start, 'YYYY-MM-DD') || ' to ' || to_char(fy_end, 'YYYY-MM-DD') || ')'
        )::text as label_en
    from fiscal_years
)

select * from final

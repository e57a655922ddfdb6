-- Thai fiscal years (Buddhist Era) reported on: from the plan's first year up to the
-- fiscal year of the latest accepted drop. FY F runs (F-544)-10-01 .. (F-543)-09-30.
with latest_drop as (
    select max(extract_date) as extract_date
    from {{ source('audit', 'load_ledger') }}
),

years as (
    select generate_series(
        {{ var('first_fiscal_year') }},
        greatest(
            {{ var('first_fiscal_year') }},
            (extract(year from extract_date)::int + 543
             + case when extract(month from extract_date) >= 10 then 1 else 0 end)
        )
    ) as fiscal_year
    from latest_drop
),

final as (
    select
        fiscal_year,
        fiscal_year - 543 as fiscal_year_ce_end,
        make_date(fiscal_year - 544, 10, 1) as fy_start,
        make_date(fiscal_year - 543, 9, 30) as fy_end
    from years
)

select * from final

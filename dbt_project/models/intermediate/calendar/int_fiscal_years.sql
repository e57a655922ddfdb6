-- Thai fiscal years (Buddhist Era) reported on: from the plan's first year up to the
-- fiscal year of the latest accepted drop. FY F runs (F-544)-10-01 .. (F-543)-09-30.
with load_ledger as (
    select * from {{ ref('stg_audit__load_ledger') }}
),

latest_drop as (
    select max(extract_date) as extract_date
    from load_ledger
),

years as (
    select
        generate_series(
            {{ var('first_fiscal_year') }},
            greatest({{ var('first_fiscal_year') }}, {{ fiscal_year_of('extract_date') }})
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

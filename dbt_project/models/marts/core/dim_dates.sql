-- Calendar days from 2006-10-01 (start of FY 2550, before the oldest registry dates the
-- facts carry) to the last day of the latest fiscal year reported on; Common Era and
-- Buddhist Era, with each day's Thai fiscal year.
with bounds as (
    select max(fy_end) as last_day
    from {{ ref('int_fiscal_years') }}
),

days as (
    select generate_series('2006-10-01'::date, bounds.last_day, interval '1 day')::date as date_day
    from bounds
),

final as (
    select
        date_day::date as date_day,
        to_char(date_day, 'YYYYMMDD')::int as date_key,
        extract(year from date_day)::int as year_ce,
        (extract(year from date_day)::int + 543)::int as year_be,
        extract(month from date_day)::int as month_no,
        extract(day from date_day)::int as day_of_month,
        date_trunc('month', date_day)::date as month_start,
        {{ fiscal_year_of('date_day') }}::int as fiscal_year,
        (((extract(month from date_day)::int + 2) % 12) / 3 + 1)::int as fiscal_quarter,
        (to_char(date_day, 'DD/MM/') || (extract(year from date_day)::int + 543))::text as date_be_text,
        (extract(month from date_day) = 9 and extract(day from date_day) = 30)::boolean as is_fiscal_year_end
    from days
)

select * from final

-- ผู้มีสิทธิ์และผู้ได้รับเบี้ยยังชีพ: the populations of G.1 (ELDERLY) and G.2 (DISABILITY) counted, by
-- fiscal year and area (the province '60', each district '60DD' by home subdistrict): how many
-- persons are eligible at FY end and how many of them were paid for September. The numerator and
-- denominator of the two percentages in kpi_values, exactly; aggregate, no person. The open export
-- suppresses a percentage whose counts are small (welfare export-open).
with coverage as (
    select * from {{ ref('int_allowance_coverage') }}
),

by_area as (
    select
        fiscal_year,
        allowance_type,
        '{{ var("province_code") }}' as area_code,
        count(distinct national_id) as eligible_persons,
        count(distinct national_id) filter (where is_paid) as paid_persons
    from coverage
    group by fiscal_year, allowance_type
    union all
    select
        fiscal_year,
        allowance_type,
        home_district_code as area_code,
        count(distinct national_id) as eligible_persons,
        count(distinct national_id) filter (where is_paid) as paid_persons
    from coverage
    where home_district_code is not null
    group by fiscal_year, allowance_type, home_district_code
),

final as (
    select
        fiscal_year::int as fiscal_year,
        area_code::text as area_code,
        allowance_type::text as allowance_type,
        eligible_persons::bigint as eligible_persons,
        paid_persons::bigint as paid_persons
    from by_area
)

select * from final

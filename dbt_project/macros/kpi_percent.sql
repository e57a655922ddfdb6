{#-
  Turn a population into percentage indicator rows for the province and every district, every
  fiscal year: 100 * (distinct items with is_hit) / (distinct items), rounded to 1 decimal half
  away from zero (numeric round); NULL where the population is empty.
  `population` must yield (fiscal_year, district_code, item_id, is_hit); district_code may be null
  (the item then counts in the province row only). The province row is computed over all items.
-#}
{% macro kpi_percent_rows(kpi_code, population) -%}
with population as (
    {{ population }}
),

by_area as (
    select
        fiscal_year,
        '{{ var("province_code") }}' as area_code,
        count(distinct item_id) as denominator,
        count(distinct item_id) filter (where is_hit) as numerator
    from population
    group by fiscal_year
    union all
    select
        fiscal_year,
        district_code as area_code,
        count(distinct item_id) as denominator,
        count(distinct item_id) filter (where is_hit) as numerator
    from population
    where district_code is not null
    group by fiscal_year, district_code
),

spine as (
    select fy.fiscal_year, a.area_code
    from {{ ref('int_fiscal_years') }} as fy
    cross join {{ ref('int_kpi_areas') }} as a
),

final as (
    select
        '{{ kpi_code }}'::text as kpi_code,
        spine.fiscal_year,
        spine.area_code,
        case
            when coalesce(by_area.denominator, 0) = 0 then null
            else round(100.0 * by_area.numerator::numeric / by_area.denominator::numeric, 1)
        end::numeric as value
    from spine
    left join by_area
        on spine.fiscal_year = by_area.fiscal_year and spine.area_code = by_area.area_code
)

select * from final
{%- endmacro %}

{#-
  Indicator rows (kpi_code, fiscal_year, area_code, value) for the province and every district,
  every fiscal year of int_fiscal_years, from a CTE the model has built. Each macro emits the CTEs
  that follow it (by_area, spine, final) and the final select: the model ends its own CTEs with a
  comma and calls the macro with the CTE's name.

  kpi_count_rows(kpi_code, counted, province_only=false)
      `counted` yields (fiscal_year, district_code, item_id); district_code may be null (the item
      then counts in the province row only). The value is a distinct count of items, 0 where
      nothing was counted; the province row counts over all items, it is not a sum of districts.
      province_only: no district rows.

  kpi_percent_rows(kpi_code, population)
      `population` yields (fiscal_year, district_code, item_id, is_hit). The value is
      100 * (distinct items with is_hit) / (distinct items), rounded to 1 decimal half away from
      zero (numeric round); NULL where the population is empty.
-#}
{% macro kpi_count_rows(kpi_code, counted, province_only=false) -%}
by_area as (
    select
        fiscal_year,
        '{{ var("province_code") }}' as area_code,
        count(distinct item_id) as value
    from {{ counted }}
    group by fiscal_year
    {%- if not province_only %}
    union all
    select
        fiscal_year,
        district_code as area_code,
        count(distinct item_id) as value
    from {{ counted }}
    where district_code is not null
    group by fiscal_year, district_code
    {%- endif %}
),

{{ kpi_spine(province_only) }},

final as (
    select
        '{{ kpi_code }}'::text as kpi_code,
        spine.fiscal_year,
        spine.area_code,
        coalesce(by_area.value, 0)::numeric as value
    from spine
    left join by_area
        on spine.fiscal_year = by_area.fiscal_year and spine.area_code = by_area.area_code
)

select * from final
{%- endmacro %}

{% macro kpi_percent_rows(kpi_code, population) -%}
by_area as (
    select
        fiscal_year,
        '{{ var("province_code") }}' as area_code,
        count(distinct item_id) as denominator,
        count(distinct item_id) filter (where is_hit) as numerator
    from {{ population }}
    group by fiscal_year
    union all
    select
        fiscal_year,
        district_code as area_code,
        count(distinct item_id) as denominator,
        count(distinct item_id) filter (where is_hit) as numerator
    from {{ population }}
    where district_code is not null
    group by fiscal_year, district_code
),

{{ kpi_spine() }},

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

{#- Every fiscal year and area an indicator reports on (the province only, if province_only). -#}
{% macro kpi_spine(province_only=false) -%}
spine as (
    select
        fy.fiscal_year,
        a.area_code
    from {{ ref('int_fiscal_years') }} as fy
    cross join {{ ref('int_kpi_areas') }} as a
    {%- if province_only %}
    where a.area_level = 'province'
    {%- endif %}
)
{%- endmacro %}

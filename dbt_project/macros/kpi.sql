{#-
  Turn counted items into indicator rows for the province and every district,
  every fiscal year, zero where nothing was counted.
  `counted` must yield (fiscal_year, district_code, item_id); district_code may
  be null (the item then counts in the province row only). The province row is
  a distinct count over all items, not a sum of districts.
-#}
{% macro kpi_count_rows(kpi_code, counted, province_only=false) -%}
with counted as (
    {{ counted }}
),

by_area as (
    select fiscal_year, '{{ var("province_code") }}' as area_code, count(distinct item_id) as value
    from counted
    group by fiscal_year
    {%- if not province_only %}
    union all
    select fiscal_year, district_code as area_code, count(distinct item_id) as value
    from counted
    where district_code is not null
    group by fiscal_year, district_code
    {%- endif %}
),

spine as (
    select fy.fiscal_year, a.area_code
    from {{ ref('int_fiscal_years') }} as fy
    cross join {{ ref('int_kpi_areas') }} as a
    {%- if province_only %}
    where a.area_level = 'province'
    {%- endif %}
),

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

{#- Thai fiscal year (Buddhist Era) of a date: October onwards belongs to the next year. -#}
{% macro fiscal_year_of(d) -%}
(extract(year from {{ d }})::int + 543 + case when extract(month from {{ d }}) >= 10 then 1 else 0 end)
{%- endmacro %}

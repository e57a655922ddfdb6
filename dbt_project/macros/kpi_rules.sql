{#-
  An organisation's standing on day `on_date` (a SQL date expression), read from an
  organisations row aliased `o` (kpis.md S2.1, S2.2, S2.5, S3.4):
  network partner: joined_network_on <= D and not left on or before D;
  certified:       a certification, certified_on <= D and not revoked on or before D.
-#}
{% macro is_network_partner(o, on_date) -%}
({{ o }}.joined_network_on <= {{ on_date }} and ({{ o }}.left_network_on is null or {{ o }}.left_network_on > {{ on_date }}))
{%- endmacro %}

{% macro is_certified(o, on_date) -%}
({{ o }}.certification is not null and {{ o }}.certified_on <= {{ on_date }}
 and ({{ o }}.certification_revoked_on is null or {{ o }}.certification_revoked_on > {{ on_date }}))
{%- endmacro %}

{#- Percentages: half away from zero to 1 decimal (PostgreSQL numeric round), NULL on a zero denominator. -#}
{% macro kpi_percent(numerator, denominator) -%}
round(100.0 * ({{ numerator }})::numeric / nullif(({{ denominator }})::numeric, 0), 1)
{%- endmacro %}

{#- Rank of a sufficiency-village level (sources.yml order); NULL for an unknown level. -#}
{% macro sufficiency_level_rank(level) -%}
(case {{ level }} when 'ไม่ผ่าน' then 0 when 'พออยู่พอกิน' then 1 when 'อยู่ดีกินดี' then 2 when 'มั่งมีศรีสุข' then 3 end)
{%- endmacro %}

{{ config(enabled=var('wap_drill_fail', false)) }}
-- The publish drill, for operators (write, audit, publish: welfare.warehouse.wap). This test fails
-- whenever it is enabled, once the indicators are built; it is off unless the var is set:
--   .venv/bin/python -c "from welfare.orchestration import tasks; from welfare.warehouse import
--   connections; tasks.build_and_publish(connections.role_target('transformer'),
--   ['--vars', '{wap_drill_fail: true}'])"
-- The build raises naming this test, audit.warehouse_publish gets no row, and readers keep reading
-- the last published night, unchanged. The next build without the var publishes as usual.
select
    v.kpi_code,
    v.fiscal_year,
    v.area_code
from {{ ref('kpi_values') }} as v
order by v.kpi_code, v.fiscal_year, v.area_code
limit 1

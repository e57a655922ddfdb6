-- The counts of kpi_allowance_coverage are those of G.1 and G.2: each percentage in kpi_values is
-- paid / eligible of its row (rounded as the indicators are); returns the rows where not.
select
    v.kpi_code,
    v.fiscal_year,
    v.area_code,
    v.value,
    c.eligible_persons,
    c.paid_persons
from {{ ref('kpi_values') }} as v
left join {{ ref('kpi_allowance_coverage') }} as c
    on
        v.fiscal_year = c.fiscal_year
        and v.area_code = c.area_code
        and c.allowance_type = case v.kpi_code when 'G.1' then 'ELDERLY' else 'DISABILITY' end
where
    v.kpi_code in ('G.1', 'G.2')
    and v.value is distinct from (
        case
            when coalesce(c.eligible_persons, 0) = 0 then null
            else round(100.0 * c.paid_persons::numeric / c.eligible_persons::numeric, 1)
        end
    )

-- Budget lines of local authorities (งบประมาณ อปท.) by fiscal year and category, current
-- state. Living allowances are not part of these lines (sources.yml).
with budgets as (
    select * from {{ ref('stg_lao__budgets') }}
),

authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

final as (
    select
        (b.lao_code || '|' || b.fiscal_year || '|' || b.category)::text as budget_line_key,
        b.lao_code::text as lao_code,
        b.fiscal_year::int as fiscal_year,
        b.category::text as category,
        b.planned::numeric(16, 2) as planned,
        b.spent::numeric(16, 2) as spent,
        a.district_code::text as district_code,
        b.is_stale::boolean as is_stale
    from budgets as b
    left join authorities as a on b.lao_code = a.lao_code
)

select * from final

{{ config(materialized='view') }}
-- Current state of the local-authority budget lines (snapshot): one row per (lao_code, fiscal_year, category).
with current_rows as (
    {{ current_state('lao', 'budgets', ['lao_code', 'fiscal_year', 'category'], 'snapshot') }}
),

final as (
    select
        lao_code,
        fiscal_year::int as fiscal_year,
        category,
        planned,
        spent,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

{{ config(materialized='view') }}
-- Current state of the local-authority welfare projects (snapshot): one row per project_id.
with current_rows as (
    {{ current_state('lao', 'welfare_projects', ['project_id'], 'snapshot') }}
),

final as (
    select
        project_id,
        lao_code,
        fiscal_year::int as fiscal_year,
        title,
        started_on,
        budget,
        beneficiaries::int as beneficiaries,
        sufficiency_economy,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

{{ config(materialized='view') }}
-- Current state of the fund proposals (snapshot): one row per proposal_id.
with current_rows as (
    {{ current_state('msdhs', 'fund_proposals', ['proposal_id'], 'snapshot') }}
),

final as (
    select
        proposal_id,
        org_id,
        fiscal_year::int as fiscal_year,
        title,
        submitted_on,
        requested_amount,
        approved_amount,
        status,
        sufficiency_economy,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

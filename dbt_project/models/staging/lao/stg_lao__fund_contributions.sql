{{ config(materialized='view') }}
-- Current state of the fund contributions (increment): per contribution_id, the row of the latest
-- delivery (a correction re-sends the key with changed values).
with current_rows as (
    {{ current_state('lao', 'fund_contributions', ['contribution_id'], 'increment') }}
),

final as (
    select
        contribution_id,
        lao_code,
        fund_id,
        fiscal_year::int as fiscal_year,
        amount,
        paid_on,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

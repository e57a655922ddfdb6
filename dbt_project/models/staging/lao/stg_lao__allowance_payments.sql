{{ config(materialized='view') }}
-- Current state of the allowance payments (increment): per payment_id, the row of the latest
-- delivery (a correction re-sends the key with changed values).
with current_rows as (
    {{ current_state('lao', 'allowance_payments', ['payment_id'], 'increment') }}
),

final as (
    select
        payment_id,
        lao_code,
        national_id,
        allowance_type,
        period,
        to_date(period, 'YYYY-MM') as period_month,
        amount,
        paid_on,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

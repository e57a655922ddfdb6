{{ config(materialized='view') }}
-- Every allowance-payment row of every delivery, as loaded (raw.lao__allowance_payments, one
-- partition per load). A plain projection, so a filter on load_id reaches the raw table and
-- PostgreSQL prunes its partitions at run time: int_allowance_payments_current reads the new
-- deliveries through it.
with delivered_rows as (
    select * from {{ source('lao', 'lao__allowance_payments') }}
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
        _row_no as row_no
    from delivered_rows
)

select * from final

-- Every current allowance payment with its paying authority's district, its fiscal year and the
-- improper-payment flags of kpis.md G.3, read against the person register
-- (macros/allowance_payment_flags.sql says how each flag is decided).
with payments as (
    select * from {{ ref('int_allowance_payments_current') }}
),

{{ allowance_payment_flags('payments') }}

select * from flagged

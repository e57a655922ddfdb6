-- G.3 การจ่ายเบี้ยที่ไม่ถูกต้อง
-- Allowance payments with a period in F that are improper (paid after death, duplicate, ELDERLY
-- under 60), each counted once. District by the paying authority; PAO payments count in the
-- province row only.
with payments as (
    select * from {{ ref('int_allowance_payments_flagged') }}
),

counted as (
    select
        p.fiscal_year,
        p.district_code,
        p.payment_id as item_id
    from payments as p
    where p.is_improper
),

{{ kpi_count_rows('G.3', 'counted') }}

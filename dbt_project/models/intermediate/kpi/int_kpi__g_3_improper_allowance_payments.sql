-- G.3 การจ่ายเบี้ยที่ไม่ถูกต้อง
-- Allowance payments with a period in F that are improper (paid after death, duplicate, ELDERLY
-- under 60), each counted once. District by the paying authority; PAO payments count in the
-- province row only.
{{ kpi_count_rows('G.3', "
    select p.fiscal_year, p.district_code, p.payment_id as item_id
    from " ~ ref('fct_allowance_payments') ~ " as p
    where p.is_improper
") }}

-- G.2 ความครอบคลุมเบี้ยความพิการ
-- Of the persons alive at FY end holding a disability card valid at FY end
-- (issued_on <= FY end < expires_on; a card without expires_on does not expire), the percentage
-- with at least one DISABILITY payment for September of F. District by home subdistrict.
{{ kpi_percent_rows('G.2', "
    select
        fy.fiscal_year,
        p.home_district_code as district_code,
        p.national_id as item_id,
        paid.national_id is not null as is_hit
    from " ~ ref('person_register') ~ " as p
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on p.died_on is null or p.died_on > fy.fy_end
    left join (
        select distinct national_id, period_month
        from " ~ ref('stg_lao__allowance_payments') ~ "
        where allowance_type = 'DISABILITY' and extract(month from period_month) = 9
    ) as paid
        on paid.national_id = p.national_id
        and paid.period_month = make_date(fy.fiscal_year - 543, 9, 1)
    where exists (
        select 1 from " ~ ref('stg_msdhs__disability_cards') ~ " as c
        where c.national_id = p.national_id
            and c.issued_on <= fy.fy_end
            and (c.expires_on is null or c.expires_on > fy.fy_end)
    )
") }}

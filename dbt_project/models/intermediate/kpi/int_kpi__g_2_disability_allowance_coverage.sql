-- G.2 ความครอบคลุมเบี้ยความพิการ
-- Of the persons alive at FY end holding a disability card valid at FY end
-- (issued_on <= FY end < expires_on; a card without expires_on does not expire), the percentage
-- with at least one DISABILITY payment for September of F. District by home subdistrict.
{{ kpi_percent_rows('G.2', "
    select
        fy.fiscal_year,
        p.home_district_code as district_code,
        p.national_id as item_id,
        exists (
            select 1 from " ~ ref('stg_lao__allowance_payments') ~ " as pay
            where pay.national_id = p.national_id
                and pay.allowance_type = 'DISABILITY'
                and pay.period_month = make_date(fy.fiscal_year - 543, 9, 1)
        ) as is_hit
    from " ~ ref('person_register') ~ " as p
    inner join " ~ ref('int_fiscal_years') ~ " as fy
        on p.died_on is null or p.died_on > fy.fy_end
    where exists (
        select 1 from " ~ ref('stg_msdhs__disability_cards') ~ " as c
        where c.national_id = p.national_id
            and c.issued_on <= fy.fy_end
            and (c.expires_on is null or c.expires_on > fy.fy_end)
    )
") }}

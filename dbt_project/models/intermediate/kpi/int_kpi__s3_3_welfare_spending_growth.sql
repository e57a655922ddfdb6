-- S3.3 ร้อยละที่เพิ่มขึ้นของงบประมาณที่ใช้จ่ายในการจัดสวัสดิการสังคม
-- 100 * (T(F) - T(F-1)) / T(F-1), where T(F) = spent of all SOCIAL_WELFARE and
-- COMMUNITY_WELFARE_FUND budget lines of F + amount of welfare_services delivered in F
-- + approved_amount of APPROVED fund_proposals of F. NULL where T(F-1) is 0. Province only.
with fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

areas as (
    select * from {{ ref('int_kpi_areas') }}
    where area_level = 'province'
),

budget_spending as (
    select
        fiscal_year,
        sum(spent) as amount
    from {{ ref('stg_lao__budgets') }}
    where category in ('SOCIAL_WELFARE', 'COMMUNITY_WELFARE_FUND')
    group by fiscal_year
),

service_spending as (
    select
        {{ fiscal_year_of('delivered_on') }} as fiscal_year,
        sum(amount) as amount
    from {{ ref('stg_msdhs__welfare_services') }}
    group by {{ fiscal_year_of('delivered_on') }}
),

fund_spending as (
    select
        fiscal_year,
        sum(approved_amount) as amount
    from {{ ref('stg_msdhs__fund_proposals') }}
    where status = 'APPROVED'
    group by fiscal_year
),

spending as (
    select
        fiscal_year,
        amount
    from budget_spending
    union all
    select
        fiscal_year,
        amount
    from service_spending
    union all
    select
        fiscal_year,
        amount
    from fund_spending
),

-- T(F) for every reported year and the year before the first one; 0 where nothing was spent.
totals as (
    select
        y.fiscal_year,
        coalesce(sum(s.amount), 0) as total_spent
    from (
        select fiscal_year from fiscal_years
        union
        select min(fiscal_year) - 1 from fiscal_years
    ) as y
    left join spending as s on y.fiscal_year = s.fiscal_year
    group by y.fiscal_year
),

final as (
    select
        'S3.3'::text as kpi_code,
        fy.fiscal_year,
        areas.area_code,
        {{ kpi_percent('cur.total_spent - prev.total_spent', 'prev.total_spent') }} as value
    from fiscal_years as fy
    cross join areas
    inner join totals as cur on fy.fiscal_year = cur.fiscal_year
    inner join totals as prev on prev.fiscal_year = fy.fiscal_year - 1
)

select * from final

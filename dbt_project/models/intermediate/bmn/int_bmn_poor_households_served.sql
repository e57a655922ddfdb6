{{ config(materialized='table') }}
-- Per fiscal year F, the poor BMN households of G.4 and whether anyone serves them.
-- S = the latest survey year <= F present among the valid (current) households; a household of S
-- is poor when members >= 1 and annual_income / members < 38,000 baht. It is served when one of
-- its members (the current bmn_members rows of that household and S) has a current target_persons
-- record with group POOR, or received a welfare service delivered in F. Fiscal years before the
-- first survey year have no S and no households.
-- A table: G.4 and the follow-up mart unserved_poor_households both read it. The poor households
-- and their members come from int_bmn_poor_households, rebuilt only when the survey arrives.
with fiscal_years as (
    select * from {{ ref('int_fiscal_years') }}
),

households as (
    select * from {{ ref('stg_cdd__bmn_households') }}
),

poor_survey_households as (
    select * from {{ ref('int_bmn_poor_households') }}
),

survey_years as (
    select distinct survey_year from households
),

poor_persons as (
    select national_id
    from {{ ref('stg_msdhs__target_persons') }}
    where 'POOR' = any(target_groups::text[])
),

services as (
    select
        national_id,
        delivered_on
    from {{ ref('stg_msdhs__welfare_services') }}
),

survey_of_year as (
    select
        fy.fiscal_year,
        fy.fy_start,
        fy.fy_end,
        (
            select max(y.survey_year) from survey_years as y
            where y.survey_year <= fy.fiscal_year
        ) as survey_year
    from fiscal_years as fy
),

poor_households as (
    select
        s.fiscal_year,
        s.fy_start,
        s.fy_end,
        h.survey_year,
        h.household_code,
        h.village_code,
        h.subdistrict_code,
        h.district_code,
        h.head_national_id,
        h.members,
        h.annual_income,
        h.member_national_ids
    from survey_of_year as s
    inner join poor_survey_households as h on s.survey_year = h.survey_year
),

household_members as (
    select
        ph.fiscal_year,
        ph.fy_start,
        ph.fy_end,
        ph.survey_year,
        ph.household_code,
        m.national_id
    from poor_households as ph
    cross join lateral unnest(ph.member_national_ids) as m (national_id)
),

served_by_group as (
    select
        hm.fiscal_year,
        hm.survey_year,
        hm.household_code
    from household_members as hm
    inner join poor_persons as pp on hm.national_id = pp.national_id
),

served_by_service as (
    select
        hm.fiscal_year,
        hm.survey_year,
        hm.household_code
    from household_members as hm
    inner join services as sv
        on
            hm.national_id = sv.national_id
            and sv.delivered_on between hm.fy_start and hm.fy_end
),

served as (
    select * from served_by_group
    union
    select * from served_by_service
),

final as (
    select
        ph.fiscal_year,
        ph.survey_year,
        ph.household_code,
        ph.village_code,
        ph.subdistrict_code,
        ph.district_code,
        ph.head_national_id,
        ph.members,
        ph.annual_income,
        round(ph.annual_income / ph.members, 2) as income_per_head,
        (s.household_code is not null) as is_served
    from poor_households as ph
    left join served as s
        on
            ph.fiscal_year = s.fiscal_year
            and ph.survey_year = s.survey_year
            and ph.household_code = s.household_code
)

select * from final

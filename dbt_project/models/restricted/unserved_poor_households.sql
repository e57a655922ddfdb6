-- ครัวเรือนยากจนที่ยังไม่ได้รับการดูแล, household by household with its members, for follow-up:
-- the poor BMN households of G.4 that nobody served, for every fiscal year (staff usually filter
-- the latest). One row per household, fiscal year and member. RESTRICTED: national ids and names.
with households as (
    select * from {{ ref('int_bmn_poor_households_served') }}
    where not is_served
),

members as (
    select * from {{ ref('stg_cdd__bmn_members') }}
),

final as (
    select
        h.fiscal_year::int as fiscal_year,
        h.survey_year::int as survey_year,
        h.household_code::text as household_code,
        h.village_code::text as village_code,
        h.subdistrict_code::text as subdistrict_code,
        h.district_code::text as district_code,
        h.head_national_id::text as head_national_id,
        h.members::int as members,
        h.annual_income::numeric(14, 2) as annual_income,
        h.income_per_head::numeric(14, 2) as income_per_head,
        m.national_id::text as member_national_id,
        m.first_name::text as member_first_name,
        m.last_name::text as member_last_name,
        m.relation::text as member_relation
    from households as h
    left join members as m
        on h.survey_year = m.survey_year and h.household_code = m.household_code
)

select * from final

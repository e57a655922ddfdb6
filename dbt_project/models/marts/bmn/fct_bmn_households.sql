-- ครัวเรือน จปฐ.: one row per BMN survey year and household (current state), with income per head
-- and the poverty line of G.4 (annual_income / members < 38,000 baht, members >= 1). The head is
-- a person_key (md5 of the national id for now; the privacy issue replaces it with a keyed
-- pseudonym). No national id or name.
with households as (
    select * from {{ ref('stg_cdd__bmn_households') }}
),

final as (
    select
        survey_year::int as survey_year,
        household_code::text as household_code,
        village_code::text as village_code,
        subdistrict_code::text as subdistrict_code,
        district_code::text as district_code,
        md5(head_national_id)::text as head_person_key,
        members::int as members,
        annual_income::numeric(14, 2) as annual_income,
        (case when members >= 1 then round(annual_income / members, 2) end)::numeric(14, 2) as income_per_head,
        (members >= 1 and annual_income / nullif(members, 0) < 38000)::boolean as is_poor
    from households
)

select * from final

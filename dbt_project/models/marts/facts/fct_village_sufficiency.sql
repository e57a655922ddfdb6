-- Sufficiency-economy village assessments (หมู่บ้านเศรษฐกิจพอเพียง) of the Community
-- Development Department, one row per (village_code, assessed_fy). level_rank orders the
-- levels: 0 ไม่ผ่าน < 1 พออยู่พอกิน < 2 อยู่ดีกินดี < 3 มั่งมีศรีสุข.
with assessments as (
    select * from {{ ref('stg_cdd__village_sufficiency') }}
),

final as (
    select
        village_code::text as village_code,
        assessed_fy::int as assessed_fy,
        level::text as level,
        {{ sufficiency_level_rank('level') }}::int as level_rank,
        subdistrict_code::text as subdistrict_code,
        district_code::text as district_code,
        is_stale::boolean as is_stale
    from assessments
)

select * from final

-- The district of each local authority (its district_code); null for the provincial
-- administrative organisation (PAO), whose figures count in province rows only.
with authorities as (
    select * from {{ ref('stg_lao__authorities') }}
),

final as (
    select
        lao_code,
        lao_name,
        lao_type,
        nullif(district_code, '') as district_code
    from authorities
)

select * from final

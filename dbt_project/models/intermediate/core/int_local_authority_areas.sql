-- Where each local authority reports: its own district_code (sources.yml); the provincial
-- administrative organisation (PAO, district_code '') has none (district_code null) and counts in
-- province rows only.
with authorities as (
    select * from {{ ref('stg_lao__authorities') }}
),

final as (
    select
        lao_code,
        lao_name,
        lao_type,
        nullif(district_code, '') as district_code,
        array_to_string(subdistrict_codes, '|') as subdistrict_codes,
        is_stale
    from authorities
)

select * from final

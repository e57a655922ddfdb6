-- The areas every indicator reports on: the province ('60') and its 15 districts.
with districts as (
    select distinct
        district_code::text as area_code,
        'district' as area_level
    from {{ ref('areas') }}
),

final as (
    select
        '{{ var("province_code") }}' as area_code,
        'province' as area_level
    union all
    select
        area_code,
        area_level
    from districts
)

select * from final

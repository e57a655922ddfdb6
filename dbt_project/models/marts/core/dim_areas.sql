-- Conformed area dimension: the province, its districts, subdistricts (areas seed) and
-- villages (current villages extract). One row per area_code at every level.
with areas as (
    select * from {{ ref('areas') }}
),

villages as (
    select * from {{ ref('stg_cdd__villages') }}
),

province as (
    select
        '{{ var("province_code") }}'::text as area_code,
        'province'::text as area_level,
        null::text as parent_area_code,
        '{{ var("province_code") }}'::text as province_code,
        null::text as district_code,
        null::text as subdistrict_code,
        null::text as village_code,
        'นครสวรรค์'::text as name_th,
        'Nakhon Sawan'::text as name_en
),

districts as (
    select distinct
        district_code::text as area_code,
        'district'::text as area_level,
        '{{ var("province_code") }}'::text as parent_area_code,
        '{{ var("province_code") }}'::text as province_code,
        district_code::text as district_code,
        null::text as subdistrict_code,
        null::text as village_code,
        district_name_th::text as name_th,
        district_name_en::text as name_en
    from areas
),

subdistricts as (
    select
        subdistrict_code::text as area_code,
        'subdistrict'::text as area_level,
        district_code::text as parent_area_code,
        '{{ var("province_code") }}'::text as province_code,
        district_code::text as district_code,
        subdistrict_code::text as subdistrict_code,
        null::text as village_code,
        subdistrict_name_th::text as name_th,
        subdistrict_name_en::text as name_en
    from areas
),

village_rows as (
    select
        v.village_code::text as area_code,
        'village'::text as area_level,
        v.subdistrict_code::text as parent_area_code,
        '{{ var("province_code") }}'::text as province_code,
        v.district_code::text as district_code,
        v.subdistrict_code::text as subdistrict_code,
        v.village_code::text as village_code,
        v.village_name::text as name_th,
        -- the villages extract has Thai names only
        null::text as name_en
    from villages as v
    inner join areas as a on a.subdistrict_code::text = v.subdistrict_code
),

final as (
    select * from province
    union all
    select * from districts
    union all
    select * from subdistricts
    union all
    select * from village_rows
)

select * from final

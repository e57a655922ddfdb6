-- Local authorities (องค์กรปกครองส่วนท้องถิ่น, อปท.) in their current state. The PAO
-- (องค์การบริหารส่วนจังหวัด) has no district: district_code NULL, area_code the province.
with authorities as (
    select * from {{ ref('int_local_authority_areas') }}
),

final as (
    select
        lao_code::text as lao_code,
        lao_name::text as lao_name,
        lao_type::text as lao_type,
        case lao_type
            when 'PAO' then 'องค์การบริหารส่วนจังหวัด'
            when 'CITY_MUNICIPALITY' then 'เทศบาลนคร'
            when 'TOWN_MUNICIPALITY' then 'เทศบาลเมือง'
            when 'SUBDISTRICT_MUNICIPALITY' then 'เทศบาลตำบล'
            when 'SAO' then 'องค์การบริหารส่วนตำบล'
        end::text as lao_type_th,
        district_code::text as district_code,
        coalesce(district_code, '{{ var("province_code") }}')::text as area_code,
        subdistrict_codes::text as subdistrict_codes,
        coalesce(cardinality(string_to_array(nullif(subdistrict_codes, ''), '|')), 0)::int as subdistricts_served,
        is_stale::boolean as is_stale
    from authorities
)

select * from final

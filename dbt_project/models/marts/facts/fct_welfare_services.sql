-- Welfare services delivered by the office (บริการสวัสดิการ), one row per service_id,
-- current state. No national id: person_key (macros/person_key.sql).
with services as (
    select * from {{ ref('stg_msdhs__welfare_services') }}
),

final as (
    select
        service_id::text as service_id,
        {{ person_key('national_id') }}::text as person_key,
        service_type::text as service_type,
        amount::numeric(16, 2) as amount,
        delivered_on::date as delivered_on,
        {{ fiscal_year_of('delivered_on') }}::int as fiscal_year,
        subdistrict_code::text as subdistrict_code,
        district_code::text as district_code,
        is_stale::boolean as is_stale
    from services
)

select * from final

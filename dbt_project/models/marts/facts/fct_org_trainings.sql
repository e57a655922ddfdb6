-- Capacity-building courses attended by organisations (การพัฒนาศักยภาพ), one row per
-- (training_id, org_id). The area is the organisation's (a training row has none);
-- was_network_partner says whether the organisation was a partner on held_on (S2.5).
with trainings as (
    select * from {{ ref('stg_msdhs__org_trainings') }}
),

organizations as (
    select * from {{ ref('stg_msdhs__organizations') }}
),

final as (
    select
        t.training_id::text as training_id,
        t.org_id::text as org_id,
        t.course::text as course,
        t.held_on::date as held_on,
        {{ fiscal_year_of('t.held_on') }}::int as fiscal_year,
        t.participants::int as participants,
        o.subdistrict_code::text as subdistrict_code,
        o.district_code::text as district_code,
        coalesce({{ is_network_partner('o', 't.held_on') }}, false)::boolean as was_network_partner,
        t.is_stale::boolean as is_stale
    from trainings as t
    left join organizations as o on t.org_id = o.org_id
)

select * from final

-- S1.1's measurement per drop date and area as readers may see it: of the measurements each build
-- wrote into int_person_register_measurements, those of the builds published before this
-- generation's and of its own (int_published_builds: so the build's indicators and tests see the
-- night they measure), the latest per drop date and area. A night that was never published is not
-- here; a drop date built again is the latest published build's.
with measurements as (
    select * from {{ ref('int_person_register_measurements') }}
),

published_builds as (
    select build_id from {{ ref('int_published_builds') }}
),

visible as (
    select m.*
    from measurements as m
    where
        m.build_id is null  -- measured before builds were published (a migrated history)
        or m.build_id in (select b.build_id from published_builds as b)
),

final as (
    select distinct on (drop_date, area_code)
        drop_date::date as drop_date,
        fiscal_year::int as fiscal_year,
        area_code::text as area_code,
        persons::bigint as persons,
        complete_persons::bigint as complete_persons,
        pct_complete::numeric as pct_complete,
        build_id::text as build_id,
        measured_at::timestamptz as measured_at
    from visible
    order by drop_date asc, area_code asc, measured_at desc nulls last
)

select * from final

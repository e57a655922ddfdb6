{{ config(
    materialized='incremental',
    schema='history',
    unique_key=['build_id', 'drop_date', 'area_code'],
    incremental_strategy='delete+insert',
    full_refresh=false,
    on_schema_change='fail',
    pre_hook=["{{ forget_unpublished_measurements() }}"],
) }}
-- S1.1's measurement of the warehouse: after each run, per area, how many persons the register
-- holds (the dead included) and how many of them are complete and consistent (sex, birth date and
-- home subdistrict known; target_persons and the BMN member rows of every survey year agree on sex
-- and birth date). One row per build, drop date (the latest extract_date in audit.load_ledger) and
-- area; the latest published build of a drop date is its measurement
-- (int_person_register_measurements_latest), so replaying the drops in order reproduces every
-- measurement. full_refresh is off: the history is the point of this table. It is shared by both
-- generations (schema history, welfare.warehouse.wap): a build writes its rows here before its tests
-- have run, readers see them only once the build is published, and the next build forgets the rows
-- of a build never published (the pre-hook).
-- Persons without a home subdistrict count in the province row only.
with load_ledger as (
    select * from {{ ref('stg_audit__load_ledger') }}
),

drop_date as (
    select max(extract_date) as drop_date from load_ledger
),

persons as (
    select
        home_district_code,
        is_complete_and_consistent
    from {{ ref('int_person_register') }}
),

areas as (
    select
        area_code,
        area_level
    from {{ ref('int_kpi_areas') }}
),

by_area as (
    select
        '{{ var("province_code") }}' as area_code,
        count(*) as persons,
        count(*) filter (where is_complete_and_consistent) as complete_persons
    from persons
    union all
    select
        home_district_code as area_code,
        count(*) as persons,
        count(*) filter (where is_complete_and_consistent) as complete_persons
    from persons
    where home_district_code is not null
    group by home_district_code
),

final as (
    select
        d.drop_date::date as drop_date,
        {{ fiscal_year_of('d.drop_date') }}::int as fiscal_year,
        a.area_code::text as area_code,
        coalesce(b.persons, 0)::bigint as persons,
        coalesce(b.complete_persons, 0)::bigint as complete_persons,
        case
            when coalesce(b.persons, 0) = 0 then null
            else round(100.0 * b.complete_persons::numeric / b.persons::numeric, 1)
        end::numeric as pct_complete,
        {{ current_build_id() }}::text as build_id,
        now()::timestamptz as measured_at
    from drop_date as d
    cross join areas as a
    left join by_area as b on a.area_code = b.area_code
    where d.drop_date is not null
)

select * from final

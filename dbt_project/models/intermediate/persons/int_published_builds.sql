{{ config(materialized='table') }}
-- The builds whose measurements this generation shows (int_person_register_measurements_latest): every
-- build published when this one ran (no publish happens during a build), and this build, which is
-- published with this generation or not at all. A table written by the build: what a reader sees
-- through this generation never depends on the publish's own row in audit.warehouse_publish (a
-- reader's snapshot may be older than it).
with publishes as (
    select build_id from {{ ref('stg_audit__warehouse_publish') }}
),

final as (
    select
        build_id::text as build_id,
        false as is_this_build
    from publishes
    union all
    select
        {{ current_build_id() }}::text as build_id,
        true as is_this_build
)

select * from final

{{ config(materialized='view') }}
-- Every publish of a generation of the warehouse (audit.warehouse_publish, welfare.warehouse.wap),
-- one row per published build.
with warehouse_publish as (
    select * from {{ source('audit', 'warehouse_publish') }}
),

final as (
    select
        publish_id,
        build_id,
        generation,
        drop_date,
        published_at
    from warehouse_publish
)

select * from final

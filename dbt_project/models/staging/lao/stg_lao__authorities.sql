{{ config(materialized='view') }}
-- Current state of the local authorities (snapshot): one row per lao_code.
with current_rows as (
    {{ current_state('lao', 'authorities', ['lao_code'], 'snapshot') }}
),

final as (
    select
        lao_code,
        name as lao_name,
        lao_type,
        district_code,
        subdistrict_codes,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

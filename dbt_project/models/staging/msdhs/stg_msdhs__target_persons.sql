{{ config(materialized='view') }}
-- Current state of the target-persons registry (snapshot): one row per national_id.
with current_rows as (
    {{ current_state('msdhs', 'target_persons', ['national_id'], 'snapshot') }}
),

final as (
    select
        national_id,
        title,
        first_name,
        last_name,
        sex,
        birth_date,
        house_no,
        village_no::int as village_no,
        subdistrict_code,
        left(subdistrict_code, 4) as district_code,
        target_groups,
        registered_on,
        updated_on,
        died_on,
        _extract_date as extracted_on,
        _load_id as load_id,
        _is_stale as is_stale
    from current_rows
)

select * from final

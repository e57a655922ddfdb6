{{ config(materialized='view') }}
-- Every accepted file delivery (audit.load_ledger), one row per load.
with load_ledger as (
    select * from {{ source('audit', 'load_ledger') }}
),

final as (
    select
        load_id,
        system,
        extract,
        extract_date,
        file_name,
        sha256,
        rows_in,
        rows_loaded,
        rows_quarantined,
        loaded_at
    from load_ledger
)

select * from final

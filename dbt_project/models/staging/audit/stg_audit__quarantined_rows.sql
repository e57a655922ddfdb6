{{ config(materialized='view') }}
-- Every row refused by validation (audit.quarantine), of every extract and delivery, with the rules
-- it failed. Personal data (the raw record).
with quarantine as (
    select * from {{ source('audit', 'quarantine') }}
),

final as (
    select
        load_id,
        system,
        extract,
        extract_date as extracted_on,
        source_file,
        row_no,
        rule,
        rules,
        message,
        messages,
        record
    from quarantine
)

select * from final

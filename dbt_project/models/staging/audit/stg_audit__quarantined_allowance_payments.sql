{{ config(materialized='view') }}
-- Allowance-payment rows refused by validation (audit.quarantine), with the fields S1.2 reads
-- parsed where readable: period_month is null unless period is a real YYYY-MM month.
-- Personal data (national ids).
with quarantined as (
    select * from {{ source('audit', 'quarantine') }}
    where system = 'lao' and extract = 'allowance_payments'
),

final as (
    select
        load_id,
        extract_date as extracted_on,
        source_file,
        row_no,
        nullif(record ->> 'payment_id', '') as payment_id,
        nullif(record ->> 'lao_code', '') as lao_code,
        nullif(record ->> 'national_id', '') as national_id,
        nullif(record ->> 'allowance_type', '') as allowance_type,
        record ->> 'period' as period,
        case
            when record ->> 'period' ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'
                then to_date(record ->> 'period', 'YYYY-MM')
        end as period_month
    from quarantined
)

select * from final

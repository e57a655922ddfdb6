{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    pre_hook=["{{ empty_on_survey_delivery() }}"],
    post_hook=["{{ index_on('load_id') }}"],
) }}
-- How many BMN records (members; household heads) each person has, per extract and night (the
-- extract date of the delivery the records came in), for person_link_quality: one row per
-- person, extract and night where int_bmn_person_records has one per record. Valid national ids only, as in the register.
-- Rewritten whole on the first build after a delivery of bmn_members or bmn_households, left
-- alone on other nights. Personal data (national ids).
with records as (
    select *
    from {{ ref('int_bmn_person_records') }}
    where
        national_id is not null
        and util.national_id_ok(national_id){% if survey_unchanged() %} and false{% endif %}
)

select
    source_name::text as source_name,
    extracted_on::date as night,
    national_id::text as national_id,
    count(*)::bigint as records,
    max(load_id)::bigint as load_id
from records
group by source_name, extracted_on, national_id

{% snapshot snp_cdd__bmn_indicators %}
{#- SCD type 2 history of cdd.bmn_indicators: see _cdd__snapshots.yml. The survey arrives once a round, so
    the snapshot reads only the deliveries it has not captured yet (macros/new_deliveries.sql):
    nothing on the nights without one, and a pre-hook closes the keys a new delivery deleted. On
    such nights dbt's merge closes nothing without reading the snapshot (macros/snapshot_merge.sql
    analyzes the empty staging table first), so the snapshot needs no index on dbt_scd_id. -#}
{{ config(
    unique_key=['survey_year', 'household_code', 'indicator_no'],
    strategy='check',
    check_cols=[
        'survey_year',
        'household_code',
        'indicator_no',
        'result'
    ],
    hard_deletes='ignore',
    pre_hook="{{ close_deleted_keys('cdd', 'bmn_indicators', ref('stg_cdd__bmn_indicators'), ['survey_year', 'household_code', 'indicator_no']) }}",
    post_hook=["{{ index_on('load_id') }}"],
) }}
select *
from {{ ref('stg_cdd__bmn_indicators') }}
where {{ newer_deliveries('cdd', 'bmn_indicators', this) }}
{% endsnapshot %}

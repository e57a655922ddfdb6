{% snapshot snp_cdd__bmn_households %}
{#- SCD type 2 history of cdd.bmn_households: see _cdd__snapshots.yml. The survey arrives once a round, so
    the snapshot reads only the deliveries it has not captured yet (macros/new_deliveries.sql):
    nothing on the nights without one, and a pre-hook closes the keys a new delivery deleted. On
    such nights dbt's merge closes nothing without reading the snapshot (macros/snapshot_merge.sql
    analyzes the empty staging table first), so the snapshot needs no index on dbt_scd_id. -#}
{{ config(
    unique_key=['survey_year', 'household_code'],
    strategy='check',
    check_cols=[
        'survey_year',
        'household_code',
        'village_code',
        'subdistrict_code',
        'district_code',
        'house_no',
        'head_national_id',
        'members',
        'annual_income'
    ],
    hard_deletes='ignore',
    pre_hook="{{ close_deleted_keys('cdd', 'bmn_households', ref('stg_cdd__bmn_households'), ['survey_year', 'household_code']) }}",
    post_hook=["{{ index_on('load_id') }}"],
) }}
select *
from {{ ref('stg_cdd__bmn_households') }}
where {{ newer_deliveries('cdd', 'bmn_households', this) }}
{% endsnapshot %}

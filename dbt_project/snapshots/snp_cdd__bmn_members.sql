{% snapshot snp_cdd__bmn_members %}
{#- SCD type 2 history of cdd.bmn_members: see _cdd__snapshots.yml. The survey arrives once a round, so
    the snapshot reads only the deliveries it has not captured yet (macros/new_deliveries.sql):
    nothing on the nights without one, and a pre-hook closes the keys a new delivery deleted. On
    such nights dbt's merge closes nothing without reading the snapshot (macros/snapshot_merge.sql
    analyzes the empty staging table first), so the snapshot needs no index on dbt_scd_id. -#}
{{ config(
    unique_key=['survey_year', 'household_code', 'national_id'],
    strategy='check',
    check_cols=[
        'survey_year',
        'household_code',
        'national_id',
        'first_name',
        'last_name',
        'sex',
        'birth_date',
        'relation',
        'disabled'
    ],
    hard_deletes='ignore',
    pre_hook="{{ close_deleted_keys('cdd', 'bmn_members', ref('stg_cdd__bmn_members'), ['survey_year', 'household_code', 'national_id']) }}",
    post_hook=["{{ index_on('load_id') }}"],
) }}
select *
from {{ ref('stg_cdd__bmn_members') }}
where {{ newer_deliveries('cdd', 'bmn_members', this) }}
{% endsnapshot %}

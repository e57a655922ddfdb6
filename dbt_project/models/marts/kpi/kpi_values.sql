{#- One statement holds all 19 indicators' models, thousands of expressions for PostgreSQL's JIT to
    compile, which costs more than the compiled code saves: this statement runs without JIT (set
    local: this model's transaction only). -#}
{{ config(pre_hook="set local jit = off") }}
-- Every strategy indicator, one long table: (kpi_code, fiscal_year, area_code, value).
-- area_code '60' is the province, '60DD' a district. Counts are whole numbers.
with s2_1 as (
    select * from {{ ref('int_kpi__s2_1_certified_organizations') }}
),

s2_2 as (
    select * from {{ ref('int_kpi__s2_2_network_partners') }}
),

s2_3 as (
    select * from {{ ref('int_kpi__s2_3_welfare_projects_activities') }}
),

s2_4 as (
    select * from {{ ref('int_kpi__s2_4_volunteers') }}
),

s2_5 as (
    select * from {{ ref('int_kpi__s2_5_trained_network_partners') }}
),

s2_6 as (
    select * from {{ ref('int_kpi__s2_6_approved_media_works') }}
),

s3_1 as (
    select * from {{ ref('int_kpi__s3_1_quality_network_partners') }}
),

s3_2 as (
    select * from {{ ref('int_kpi__s3_2_authorities_with_welfare_budget') }}
),

s3_3 as (
    select * from {{ ref('int_kpi__s3_3_welfare_spending_growth') }}
),

s3_4 as (
    select * from {{ ref('int_kpi__s3_4_certified_orgs_proposing') }}
),

s4_1 as (
    select * from {{ ref('int_kpi__s4_1_sufficiency_villages') }}
),

s4_2 as (
    select * from {{ ref('int_kpi__s4_2_sufficiency_projects') }}
),

s4_3 as (
    select * from {{ ref('int_kpi__s4_3_authorities_supporting_funds') }}
),

s1_1 as (
    select * from {{ ref('int_kpi__s1_1_complete_person_records') }}
),

s1_2 as (
    select * from {{ ref('int_kpi__s1_2_reliable_local_databases') }}
),

g_1 as (
    select * from {{ ref('int_kpi__g_1_elderly_allowance_coverage') }}
),

g_2 as (
    select * from {{ ref('int_kpi__g_2_disability_allowance_coverage') }}
),

g_3 as (
    select * from {{ ref('int_kpi__g_3_improper_allowance_payments') }}
),

g_4 as (
    select * from {{ ref('int_kpi__g_4_unserved_poor_households') }}
),

unioned as (
    select * from s2_1
    union all
    select * from s2_2
    union all
    select * from s2_3
    union all
    select * from s2_4
    union all
    select * from s2_5
    union all
    select * from s2_6
    union all
    select * from s3_1
    union all
    select * from s3_2
    union all
    select * from s3_3
    union all
    select * from s3_4
    union all
    select * from s4_1
    union all
    select * from s4_2
    union all
    select * from s4_3
    union all
    select * from s1_1
    union all
    select * from s1_2
    union all
    select * from g_1
    union all
    select * from g_2
    union all
    select * from g_3
    union all
    select * from g_4
),

final as (
    select
        kpi_code::text as kpi_code,
        fiscal_year::int as fiscal_year,
        area_code::text as area_code,
        value::numeric as value
    from unioned
)

select * from final

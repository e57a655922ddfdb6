-- Every strategy indicator, one long table: (kpi_code, fiscal_year, area_code, value).
-- area_code '60' is the province, '60DD' a district. Counts are whole numbers.
with s2_1 as (
    select * from {{ ref('int_kpi__s2_1_certified_organizations') }}
),

s2_2 as (
    select * from {{ ref('int_kpi__s2_2_network_partners') }}
),

s2_4 as (
    select * from {{ ref('int_kpi__s2_4_volunteers') }}
),

unioned as (
    select * from s2_1
    union all
    select * from s2_2
    union all
    select * from s2_4
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

{{ config(materialized='table') }}
-- ทะเบียนบุคคลกลาง: the person register. One row per valid national id found in any
-- person-bearing extract, with the golden record chosen by the precedence of kpis.md; the models
-- that need persons read it here, and restricted.person_register publishes it.
-- Personal data: national ids and names.
-- Each field takes the first non-null value in the order source_rank, recency desc, record_key,
-- source_name. Ties end on record_key, then source_name (a BMN member and the head row of the same
-- household share rank, recency and record key), so the golden record never depends on the order
-- of rows. Rank 2 is the whole BMN survey, whose choice int_bmn_persons makes once per survey
-- delivery in that same order; here each field is the registries' rank-1 value, else the BMN
-- value, else the registries' value of ranks 3-6.
{%- set order = 'source_rank, recency desc nulls last, record_key, source_name' %}
{%- set fields = ['first_name', 'last_name', 'sex', 'birth_date', 'subdistrict_code'] %}
with records as (
    -- the nightly registries' records, one row per source and record (ranks 1 and 3-6)
    select * from {{ ref('int_registry_person_records') }}
),

bmn as (
    -- the BMN survey (rank 2), one row per person, its choice among the survey's records made
    select * from {{ ref('int_bmn_persons') }}
),

registry as (
    -- per person, each field's first non-null value in precedence order before rank 2 (rank 1)
    -- and after it (ranks 3-6), and what only the registries say
    select
        national_id,
        {%- for f in fields %}
        {{ first_present(f, order, where='source_rank < 2') }} as {{ f }}_before_bmn,
        {{ first_present(f, order, where='source_rank > 2') }} as {{ f }}_after_bmn,
        {%- endfor %}
        {{ first_present('source_name', order, present='subdistrict_code', where='source_rank < 2') }}
            as subdistrict_source_before_bmn,
        {{ first_present('source_name', order, present='subdistrict_code', where='source_rank > 2') }}
            as subdistrict_source_after_bmn,
        array_agg(distinct source_name order by source_name) as sources,
        max(died_on) filter (where source_name = 'target_persons') as died_on,
        array_agg(distinct sex order by sex)
        filter (where source_name = 'target_persons' and sex is not null) as sexes,
        array_agg(distinct birth_date order by birth_date)
        filter (where source_name = 'target_persons' and birth_date is not null) as birth_dates,
        array_agg(distinct g.target_group order by g.target_group)
        filter (where source_name = 'target_persons' and g.n is not null) as target_groups
    from records
    -- one row per target group of a record (a record without any stays, once): a record's values
    -- repeat, which changes no first value, maximum or distinct list above
    left join lateral unnest(target_groups) with ordinality as g (target_group, n) on true
    group by national_id
),

combined as (
    select
        coalesce(r.national_id, b.national_id) as national_id,
        coalesce(r.first_name_before_bmn, b.first_name, r.first_name_after_bmn) as first_name,
        coalesce(r.last_name_before_bmn, b.last_name, r.last_name_after_bmn) as last_name,
        coalesce(r.sex_before_bmn, b.sex, r.sex_after_bmn) as sex,
        coalesce(r.birth_date_before_bmn, b.birth_date, r.birth_date_after_bmn) as birth_date,
        coalesce(r.subdistrict_code_before_bmn, b.home_subdistrict_code, r.subdistrict_code_after_bmn)
            as home_subdistrict_code,
        case
            when r.subdistrict_code_before_bmn is not null then r.subdistrict_source_before_bmn
            when b.home_subdistrict_code is not null then b.home_subdistrict_source
            else r.subdistrict_source_after_bmn
        end as home_subdistrict_source,
        r.died_on,
        case
            when b.national_id is null then r.sources
            when r.national_id is null then b.sources
            -- the two lists never share a name: merge them in order
            else array(
                select u.s from unnest(r.sources || b.sources) as u (s)
                order by u.s
            )
        end as sources,
        r.target_groups,
        -- a conflict: target_persons and the BMN members give two different values between them,
        -- i.e. one side gives two, or each gives one and they differ (both lists are distinct)
        {%- for a, b, name in [('r.sexes', 'b.member_sexes', 'has_sex_conflict'),
                               ('r.birth_dates', 'b.member_birth_dates', 'has_birth_date_conflict')] %}
    coalesce(
        cardinality({{ a }}) > 1 or cardinality({{ b }}) > 1
        or (cardinality({{ a }}) = 1 and cardinality({{ b }}) = 1 and {{ a }}[1] <> {{ b }}[1]),
        false
    ) as {{ name }}{{ ',' if not loop.last }}
    {%- endfor %}
    from registry as r
    full outer join bmn as b on r.national_id = b.national_id
),

final as (
    select
        g.national_id::text as national_id,
        {{ person_key('g.national_id') }}::text as person_key,
        g.first_name::text as first_name,
        g.last_name::text as last_name,
        g.sex::text as sex,
        g.birth_date::date as birth_date,
        g.home_subdistrict_code::text as home_subdistrict_code,
        left(g.home_subdistrict_code, 4)::text as home_district_code,
        g.home_subdistrict_source::text as home_subdistrict_source,
        g.died_on::date as died_on,
        (g.died_on is not null)::boolean as is_dead,
        g.sources::text[] as sources,
        coalesce(g.target_groups, array[]::text[])::text[] as target_groups,
        g.has_sex_conflict::boolean as has_sex_conflict,
        g.has_birth_date_conflict::boolean as has_birth_date_conflict,
        (
            g.sex is not null and g.birth_date is not null and g.home_subdistrict_code is not null
            and not g.has_sex_conflict and not g.has_birth_date_conflict
        )::boolean as is_complete_and_consistent
    from combined as g
)

select * from final

-- ทะเบียนบุคคลกลาง: the person register. One row per valid national id found in any
-- person-bearing extract, with the golden record chosen by the precedence of kpis.md.
-- RESTRICTED: national ids and names.
-- Ties end on record_key, then source_name (a BMN member and the head row of the same household
-- share rank, recency and record key), so the golden record never depends on the order of rows.
with records as (
    select * from {{ ref('int_person_source_records') }}
),

golden as (
    select
        national_id,
        (array_agg(first_name order by source_rank, recency desc nulls last, record_key, source_name)
            filter (where first_name is not null))[1] as first_name,
        (array_agg(last_name order by source_rank, recency desc nulls last, record_key, source_name)
            filter (where last_name is not null))[1] as last_name,
        (array_agg(sex order by source_rank, recency desc nulls last, record_key, source_name)
            filter (where sex is not null))[1] as sex,
        (array_agg(birth_date order by source_rank, recency desc nulls last, record_key, source_name)
            filter (where birth_date is not null))[1] as birth_date,
        (array_agg(subdistrict_code order by source_rank, recency desc nulls last, record_key, source_name)
            filter (where subdistrict_code is not null))[1] as home_subdistrict_code,
        (array_agg(source_name order by source_rank, recency desc nulls last, record_key, source_name)
            filter (where subdistrict_code is not null))[1] as home_subdistrict_source,
        max(died_on) filter (where source_name = 'target_persons') as died_on,
        array_agg(distinct source_name order by source_name) as sources,
        count(distinct sex) filter (
            where source_name in ('target_persons', 'bmn_members')
        ) > 1 as has_sex_conflict,
        count(distinct birth_date) filter (
            where source_name in ('target_persons', 'bmn_members')
        ) > 1 as has_birth_date_conflict
    from records
    group by national_id
),

target_groups as (
    select r.national_id, array_agg(distinct g.target_group order by g.target_group) as target_groups
    from records as r
    cross join lateral unnest(r.target_groups) as g (target_group)
    where r.source_name = 'target_persons'
    group by r.national_id
),

final as (
    select
        g.national_id::text as national_id,
        md5(g.national_id)::text as person_key,
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
        coalesce(t.target_groups, array[]::text[])::text[] as target_groups,
        g.has_sex_conflict::boolean as has_sex_conflict,
        g.has_birth_date_conflict::boolean as has_birth_date_conflict,
        (
            g.sex is not null and g.birth_date is not null and g.home_subdistrict_code is not null
            and not g.has_sex_conflict and not g.has_birth_date_conflict
        )::boolean as is_complete_and_consistent
    from golden as g
    left join target_groups as t on g.national_id = t.national_id
)

select * from final

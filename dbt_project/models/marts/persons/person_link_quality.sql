-- คุณภาพการเชื่อมโยงข้อมูลบุคคล: link quality of the person register, by source extract, district
-- and night. Night = the extract date of the delivery the source's current records came in
-- (a snapshot's current rows come from its latest delivery; an increment's from the delivery
-- that last sent each key). District = the person's home district from the register (null: no
-- home subdistrict known). A record is linked when its national id is also held by a current
-- record of another person-bearing extract. Conflicts are counted per person (sex, birth date
-- between target_persons and the BMN member rows). Rows refused for an invalid national id never
-- enter the register; they are counted per source and night as unlinkable_quarantined_rows
-- (district unknown). No personal data.
with records as (
    -- one row per source, night and person, with how many records say so: the nightly
    -- registries' records one by one, the BMN survey's counted per person when it was delivered
    select
        source_name,
        extracted_on as night,
        national_id,
        1::bigint as records
    from {{ ref('int_registry_person_records') }}
    union all
    select
        source_name,
        night,
        national_id,
        records
    from {{ ref('int_bmn_person_nights') }}
),

persons as (
    select
        national_id,
        home_district_code,
        sources,
        has_sex_conflict,
        has_birth_date_conflict
    from {{ ref('int_person_register') }}
),

quarantined_ids as (
    select
        q.extract as source_name,
        q.extracted_on as night,
        count(*) as unlinkable_quarantined_rows
    from {{ ref('stg_audit__quarantined_rows') }} as q
    where
        exists (
            select 1 from unnest(q.rules) as r (rule)
            where r.rule like 'national_id%'
        )
    group by q.extract, q.extracted_on
),

record_links as (
    select
        r.source_name,
        r.night,
        p.home_district_code as district_code,
        r.national_id,
        r.records,
        cardinality(array_remove(p.sources, r.source_name)) > 0 as is_linked,
        p.has_sex_conflict,
        p.has_birth_date_conflict
    from records as r
    inner join persons as p on r.national_id = p.national_id
),

aggregated as (
    select
        source_name,
        night,
        district_code,
        sum(records) as records,
        count(distinct national_id) as persons,
        coalesce(sum(records) filter (where is_linked), 0) as linked_records,
        count(distinct national_id) filter (where has_sex_conflict) as persons_with_sex_conflict,
        count(distinct national_id) filter (where has_birth_date_conflict) as persons_with_birth_date_conflict
    from record_links
    group by source_name, night, district_code
),

person_sources as (
    select distinct source_name from records
),

unlinkable as (
    select q.*
    from quarantined_ids as q
    inner join person_sources as s on q.source_name = s.source_name
),

combined as (
    select
        coalesce(a.source_name, q.source_name) as source_name,
        coalesce(a.night, q.night) as night,
        a.district_code,
        coalesce(a.records, 0) as records,
        coalesce(a.persons, 0) as persons,
        coalesce(a.linked_records, 0) as linked_records,
        coalesce(a.persons_with_sex_conflict, 0) as persons_with_sex_conflict,
        coalesce(a.persons_with_birth_date_conflict, 0) as persons_with_birth_date_conflict,
        coalesce(q.unlinkable_quarantined_rows, 0) as unlinkable_quarantined_rows
    from aggregated as a
    full outer join unlinkable as q
        on a.source_name = q.source_name and a.night = q.night and a.district_code is null
),

final as (
    select
        source_name::text as source_name,
        night::date as night,
        district_code::text as district_code,
        records::bigint as records,
        persons::bigint as persons,
        linked_records::bigint as linked_records,
        round(100.0 * linked_records::numeric / nullif(records, 0)::numeric, 1)::numeric as link_rate_pct,
        persons_with_sex_conflict::bigint as persons_with_sex_conflict,
        persons_with_birth_date_conflict::bigint as persons_with_birth_date_conflict,
        unlinkable_quarantined_rows::bigint as unlinkable_quarantined_rows
    from combined
)

select * from final

-- Monthly living allowances paid through the local authorities (เบี้ยยังชีพ).
with types (allowance_type, name_th, name_en, target_group) as (
    values
    ('ELDERLY', 'เบี้ยยังชีพผู้สูงอายุ', 'Elderly living allowance', 'ELDERLY'),
    ('DISABILITY', 'เบี้ยความพิการ', 'Disability allowance', 'DISABLED'),
    ('HIV', 'เบี้ยยังชีพผู้ป่วยเอดส์', 'HIV/AIDS patient allowance', null)
),

final as (
    select
        allowance_type::text as allowance_type,
        name_th::text as name_th,
        name_en::text as name_en,
        target_group::text as target_group
    from types
)

select * from final

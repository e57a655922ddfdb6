-- Welfare target groups (กลุ่มเป้าหมาย) of the target_persons register (sources.yml list).
with groups (target_group, name_th, name_en, sort_order) as (
    values
    ('ELDERLY', 'ผู้สูงอายุ', 'Elderly persons', 1),
    ('DISABLED', 'คนพิการ', 'Persons with disabilities', 2),
    ('CHILD', 'เด็ก', 'Children', 3),
    ('YOUTH', 'เยาวชน', 'Youth', 4),
    ('WOMEN', 'สตรี', 'Women', 5),
    ('FAMILY', 'ครอบครัว', 'Families', 6),
    ('POOR', 'ผู้มีรายได้น้อยและคนยากจน', 'Poor and low-income persons', 7),
    ('HOMELESS', 'คนไร้ที่พึ่งและคนไร้บ้าน', 'Homeless and destitute persons', 8)
),

final as (
    select
        target_group::text as target_group,
        name_th::text as name_th,
        name_en::text as name_en,
        sort_order::int as sort_order
    from groups
)

select * from final

{#-
  The current state of a raw extract, by the contract's `kind`:

  snapshot:  the rows of the latest accepted delivery (audit.load_ledger); a key
             missing from it was deleted at the source. A key whose row in that
             delivery was quarantined keeps its latest earlier valid version
             (flagged `_is_stale`) until a valid row replaces it. A rejected file
             never reaches the ledger, so the previous delivery stands.
  increment: per key, the row from the latest extract date (then load, then row).
-#}
{% macro current_state(system, extract, key, kind) -%}
{%- set raw = source(system, system ~ '__' ~ extract) -%}
{%- set key_list = key | join(', ') -%}
{%- if kind == 'snapshot' %}
with latest_delivery as (
    select load_id, extract_date
    from {{ source('audit', 'load_ledger') }}
    where system = '{{ system }}' and extract = '{{ extract }}'
    order by extract_date desc, load_id desc
    limit 1
),

delivered as (
    select distinct on ({{ key_list }}) r.*, false as _is_stale
    from {{ raw }} as r
    inner join latest_delivery as d on r._load_id = d.load_id
    order by {{ key_list }}, r._row_no desc
),

quarantined_keys as (
    select distinct {% for k in key %}q.record ->> '{{ k }}' as {{ k }}{{ ", " if not loop.last }}{% endfor %}
    from {{ source('audit', 'quarantine') }} as q
    inner join latest_delivery as d on q.load_id = d.load_id
),

stale as (
    select distinct on ({% for k in key %}r.{{ k }}{{ ", " if not loop.last }}{% endfor %}) r.*, true as _is_stale
    from {{ raw }} as r
    inner join quarantined_keys as k
        on {% for k in key %}r.{{ k }}::text = k.{{ k }}{{ " and " if not loop.last }}{% endfor %}
    where r._load_id <> (select load_id from latest_delivery)
        and r._extract_date <= (select extract_date from latest_delivery)
        and not exists (
            select 1 from delivered as dl
            where {% for k in key %}dl.{{ k }} = r.{{ k }}{{ " and " if not loop.last }}{% endfor %}
        )
    order by {% for k in key %}r.{{ k }}, {% endfor %}r._extract_date desc, r._load_id desc, r._row_no desc
),

final as (
    select * from delivered
    union all
    select * from stale
)

select * from final
{%- else %}
with ranked as (
    select distinct on ({{ key_list }}) r.*, false as _is_stale
    from {{ raw }} as r
    order by {{ key_list }}, r._extract_date desc, r._load_id desc, r._row_no desc
),

final as (
    select * from ranked
)

select * from final
{%- endif %}
{%- endmacro %}

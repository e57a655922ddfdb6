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
    -- A key is unique within a delivery: the ingest quarantines every row of a key that appears
    -- twice in a file (rule duplicate_key), so no DISTINCT ON is needed. The delivery is one
    -- partition of the raw table (runtime partition pruning on _load_id).
    select r.*, false as _is_stale
    from {{ raw }} as r
    where r._load_id = (select load_id from latest_delivery)
),

quarantined_keys as (
    select distinct {% for k in key %}q.record ->> '{{ k }}' as {{ k }}{{ ", " if not loop.last }}{% endfor %}
    from {{ source('audit', 'quarantine') }} as q
    inner join latest_delivery as d on q.load_id = d.load_id
),

stale as (
    -- Keys quarantined in the latest delivery keep their latest earlier version. Such a key has no
    -- row in `delivered` (a key with a valid and an invalid row in one file is quarantined whole,
    -- rule duplicate_key), so no anti-join against it is needed. The OR of two ranges lets
    -- PostgreSQL prune the latest delivery's partition at run time.
    select distinct on ({% for k in key %}r.{{ k }}{{ ", " if not loop.last }}{% endfor %}) r.*, true as _is_stale
    from quarantined_keys as k
    inner join {{ raw }} as r
        on {% for k in key %}r.{{ k }}::text = k.{{ k }}{{ " and " if not loop.last }}{% endfor %}
    where (r._load_id < (select load_id from latest_delivery) or r._load_id > (select load_id from latest_delivery))
        and r._extract_date <= (select extract_date from latest_delivery)
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

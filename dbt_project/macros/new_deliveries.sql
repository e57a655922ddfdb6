{#-
  Large extracts (the BMN survey, the largest of all) arrive once a survey round,
  not every night. Their snapshots and incremental facts read only the deliveries they have not
  captured yet, and nothing at all on the nights without one.

  newer_deliveries(system, extract, relation, column)
      A SQL predicate on `column` (a load_id) for the rows of deliveries newer than the newest load
      already in `relation`: `load_id > N`, or `false` when audit.load_ledger holds no newer load of
      the extract (PostgreSQL then plans no scan at all), or `true` when `relation` does not exist
      yet (the first build reads everything). Needs an index on relation(column) to stay cheap:
      see index_on('load_id').

  close_deleted_keys(staging, key)
      Pre-hook of such a snapshot (hard_deletes: ignore, since it only sees the new delivery): when
      a newer delivery has arrived, close the current version of every key the current state no
      longer holds (deleted at the source), at the snapshot's own timestamp (the same transaction,
      so the same now()). A key quarantined in the new delivery is still in the current state (as
      its stale earlier version) and stays open, as in the staging view.

  index_on(column)
      Post-hook: an index on `column`, e.g. the load_id newer_deliveries() reads max() of.
-#}
{% macro newer_deliveries(system, extract, relation, column='load_id', on=none) -%}
    {#- `on`: the column the predicate tests, when it is not `column` (e.g. qualified: r.load_id) -#}
    {%- if not execute -%}{{ return('true') }}{%- endif -%}
    {%- if load_relation(relation) is none -%}{{ return('true') }}{%- endif -%}
    {%- set seen = run_query('select coalesce(max(' ~ column ~ '), 0) from ' ~ relation).columns[0].values()[0] -%}
    {%- set newest = run_query(
        "select coalesce(max(load_id), 0) from " ~ source('audit', 'load_ledger')
        ~ " where system = '" ~ system ~ "' and extract = '" ~ extract ~ "'").columns[0].values()[0] -%}
    {%- if newest > seen -%}
        {{ return((on or column) ~ ' > ' ~ seen) }}
    {%- else -%}
        {{ return('false') }}
    {%- endif -%}
{%- endmacro %}

{% macro close_deleted_keys(system, extract, staging, key) -%}
    {%- if execute and load_relation(this) is not none
          and newer_deliveries(system, extract, this) != 'false' %}
    update {{ this }} as s
    set dbt_valid_to = {{ snapshot_get_time() }}
    where s.dbt_valid_to is null
        and not exists (
            select 1 from {{ staging }} as c
            where {% for k in key %}c.{{ k }} = s.{{ k }}{{ " and " if not loop.last }}{% endfor %}
        )
    {%- else %}
    select 1 /* no new {{ system }}.{{ extract }} delivery: nothing deleted */
    {%- endif %}
{%- endmacro %}

{% macro index_on(column) -%}
    create index if not exists {{ this.identifier }}__{{ column }} on {{ this }} ({{ column }})
{%- endmacro %}

{% macro bmn_survey_delivered() -%}
    {#- A delivery of bmn_members or bmn_households newer than what int_bmn_person_records holds
        (this): load ids grow with time, so comparing each with the table's max(load_id) is enough. -#}
    {{ return(newer_deliveries('cdd', 'bmn_members', this) != 'false'
              or newer_deliveries('cdd', 'bmn_households', this) != 'false') }}
{%- endmacro %}

{#- For the tables kept from the BMN survey and rewritten whole after each survey delivery:
    empty_on_survey_delivery(), their pre-hook, empties the table on the first build after a
    delivery; survey_unchanged() is true on the other nights of an incremental build (the model
    then selects nothing). -#}
{% macro empty_on_survey_delivery() -%}
    {%- if is_incremental() and bmn_survey_delivered() -%}
        delete from {{ this }}
    {%- else -%}
        select 1 /* no new survey delivery: {{ this }} stays as it is */
    {%- endif -%}
{%- endmacro %}

{% macro survey_unchanged() -%}
    {{ return(is_incremental() and not bmn_survey_delivered()) }}
{%- endmacro %}

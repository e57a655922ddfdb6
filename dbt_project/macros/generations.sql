{#- The build a session belongs to (welfare.warehouse.wap hands each dbt session its build id as the
    setting welfare.build_id); 'unrecorded' for a dbt run outside the `welfare` command, which is never
    published. -#}
{% macro current_build_id() -%}
coalesce(nullif(current_setting('welfare.build_id', true), ''), 'unrecorded')
{%- endmacro %}

{#- Pre-hook of int_person_register_measurements (shared by both generations): the rows of a build
    that was never published (it failed, or another build replaced it) are forgotten. Rows measured
    before builds were published (build_id NULL) stay. -#}
{% macro forget_unpublished_measurements() -%}
{%- if is_incremental() %}
delete from {{ this }} as m
where
    m.build_id is not null
    and m.build_id <> {{ current_build_id() }}
    and not exists (select 1 from audit.warehouse_publish as p where p.build_id = m.build_id)
{%- else %}
select 1 /* {{ this }} is new: nothing to forget */
{%- endif %}
{%- endmacro %}

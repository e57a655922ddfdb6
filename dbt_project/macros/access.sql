{#- Who reads what (welfare.warehouse.roles): the grants of each mart are dbt's `grants` config in
    dbt_project.yml; these macros do what `grants` cannot. -#}

{#- on-run-start: no build without the pseudonym key (see person_key). -#}
{% macro require_pseudonym_key() -%}
do $$
begin
    if coalesce(current_setting('welfare.pseudonym_ipad', true), '') !~ '^[0-9a-f]{128}$'
        or coalesce(current_setting('welfare.pseudonym_opad', true), '') !~ '^[0-9a-f]{128}$' then
        raise exception 'dbt runs without the pseudonym key: run it through welfare (the welfare_warehouse DAG, '
            '`welfare run`), which hands its sessions WELFARE_PSEUDONYM_KEY or $WELFARE_HOME/secrets/pseudonym.key';
    end if;
end
$$
{%- endmacro %}

{#- on-run-end: the readers' usage of the schemas they read (a schema dbt made anew has none). -#}
{% macro grant_schema_usage() -%}
{%- if execute %}
grant usage on schema marts to welfare_bi_reader, welfare_analyst;
grant usage on schema restricted to welfare_caseworker
{%- endif %}
{%- endmacro %}

{#- post-hook of a caseworkers' follow-up list: a caseworker login reads the rows of the districts
    access.caseworker_districts grants it, and no other; FORCE: the owner too is held to the policies
    (the build's own policy lets dbt write and test it); nobody has BYPASSRLS. -#}
{% macro caseworker_row_security(district_column) -%}
alter table {{ this }} enable row level security;
alter table {{ this }} force row level security;
create policy caseworker_districts on {{ this }} for select to welfare_caseworker
    using ({{ district_column }} in (select access.my_districts()));
create policy warehouse_build on {{ this }} for all to welfare_owner using (true) with check (true)
{%- endmacro %}

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

{#- on-run-start: never a build of the generation readers read (welfare.warehouse.wap): the `welfare`
    command builds the other one and publishes it once every test passed. A reader's usage of the
    schemas is the publish's (it follows the generation), never dbt's. -#}
{% macro require_unpublished_generation() -%}
do $$
declare
    published text;
begin
    if to_regclass('audit.warehouse_publish') is null then
        raise exception 'the warehouse has no audit.warehouse_publish: run `welfare warehouse setup` (it migrates '
            'the warehouse to the published generations) before dbt builds';
    end if;
    select p.generation into published from audit.warehouse_publish as p order by p.publish_id desc limit 1;
    if published = '{{ build_color() }}' then
        raise exception 'dbt would build the % generation, which readers read: run it through welfare (the '
            'welfare_warehouse DAG, `welfare rotate-key`), which builds the other generation and publishes it '
            'once every test passed', published;
    end if;
end
$$
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

{#- Schemas: the layers readers never read directly (staging, intermediate) and the two they do
    (marts, restricted) are built into one of two generations, `<layer>_blue` or `<layer>_green`
    (welfare.warehouse.wap): always the one readers do not see, chosen by the `welfare` command and
    handed to dbt as WELFARE_BUILD_COLOR. Readers read `marts.*` and `restricted.*`, views the
    publish step points at the published generation. Everything else keeps its name and is shared by
    both generations: the seeds (reference), the snapshots (one history) and the run history of S1.1
    (history). Not <target>_<schema>. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim in ['staging', 'intermediate', 'marts', 'restricted'] -%}
        {{ custom_schema_name | trim }}_{{ build_color() }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{#- The generation this invocation builds. The default lets `dbt parse` and the linters run without
    the `welfare` command; a build of the published generation is refused at its start
    (require_unpublished_generation, macros/access.sql). -#}
{% macro build_color() -%}
    {%- set color = env_var('WELFARE_BUILD_COLOR', 'blue') -%}
    {%- if color not in ['blue', 'green'] -%}
        {{ exceptions.raise_compiler_error("WELFARE_BUILD_COLOR must be blue or green, not '" ~ color ~ "'") }}
    {%- endif -%}
    {{ return(color) }}
{%- endmacro %}

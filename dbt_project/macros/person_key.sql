{#- The key analyst marts carry for a person instead of the national id: md5 of the id for now; the
    privacy issue replaces it with a keyed pseudonym (HMAC with a secret), here, once. -#}
{% macro person_key(national_id) -%}
md5({{ national_id }})
{%- endmacro %}

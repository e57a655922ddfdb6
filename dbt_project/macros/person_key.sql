{#- The key analyst marts carry for a person instead of the national id: HMAC-SHA-256 of the id under
    the project's secret key, hex. The key never enters the warehouse: dbt's sessions get it as two
    session settings, HMAC's inner and outer padded keys (welfare.warehouse.secrets), so the
    compiled SQL, dbt's logs and the server's hold no key; a session without them fails here
    (require_pseudonym_key stops the run first, with the reason). Built-in sha256 only. -#}
{% macro person_key(national_id) -%}
encode(sha256(decode(current_setting('welfare.pseudonym_opad'), 'hex')
    || sha256(decode(current_setting('welfare.pseudonym_ipad'), 'hex') || convert_to({{ national_id }}, 'UTF8'))), 'hex')
{%- endmacro %}

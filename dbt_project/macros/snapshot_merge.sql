{#-
  dbt-postgres's snapshot merge, after an ANALYZE of the staging table dbt has just filled with the
  changes. A temporary table has no statistics until analyzed, so PostgreSQL guesses it holds
  rows, and on a night when a snapshot has nothing to close it hash-joins that guess against the
  whole snapshot. Analyzed, the empty table is the hash side and the snapshot is never read.
-#}
{% macro postgres__snapshot_merge_sql(target, source, insert_cols) -%}
    analyze {{ source }};
    {{ dbt.postgres__snapshot_merge_sql(target, source, insert_cols) }}
{%- endmacro %}

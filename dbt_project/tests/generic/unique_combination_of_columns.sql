{% test unique_combination_of_columns(model, columns) %}
-- No dbt packages here (only PyPI is reachable): a plain uniqueness test over several columns.
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

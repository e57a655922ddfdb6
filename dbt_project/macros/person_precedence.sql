{#- A person's value of `column` from the first of their records (the rows of the group) in
    `order` that has one: kpis.md's precedence, as the register and int_bmn_persons apply it.
    `present`: the column whose presence decides (default `column`); `where`: a further filter. -#}
{% macro first_present(column, order, present=none, where=none) -%}
(array_agg({{ column }} order by {{ order }})
            filter (where {{ present or column }} is not null{% if where %} and {{ where }}{% endif %}))[1]
{%- endmacro %}

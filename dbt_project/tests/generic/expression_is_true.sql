{#
  Offline replacement for dbt_utils.expression_is_true (same argument names, same
  semantics): fails on every row where the SQL expression is false. A NULL result does
  not fail (as in dbt_utils); add "and x is not null" to the expression to forbid NULLs.
  With column_name (set when used under a column) the expression is appended to it.
#}
{% test expression_is_true(model, expression, column_name=none, where=none) %}
select *
from {{ model }}
where not ({{ column_name ~ ' ' if column_name else '' }}{{ expression }})
{% if where %}  and ({{ where }}){% endif %}
{% endtest %}

{#
  Offline replacement for dbt_utils.accepted_range (same argument names).
  Fails on rows whose value is outside [min_value, max_value] (bounds optional;
  inclusive=false makes them strict). NULLs pass; `where` filters rows first.
#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true, where=none) %}
{%- if min_value is none and max_value is none -%}
{{ exceptions.raise_compiler_error("accepted_range on " ~ column_name ~ ": give min_value, max_value or both") }}
{%- endif -%}
with rows_to_check as (
    select {{ column_name }} as value_checked
    from {{ model }}
    {% if where %}where {{ where }}{% endif %}
)

select *
from rows_to_check
where value_checked is not null
  and (
    1 = 0
    {%- if min_value is not none %}
    or value_checked {{ '<' if inclusive else '<=' }} {{ min_value }}
    {%- endif %}
    {%- if max_value is not none %}
    or value_checked {{ '>' if inclusive else '>=' }} {{ max_value }}
    {%- endif %}
  )
{% endtest %}

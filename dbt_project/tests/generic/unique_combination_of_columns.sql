{#
  Offline replacement for dbt_utils.unique_combination_of_columns (same argument names).
  Fails on every combination of the columns that appears more than once.
#}
{% test unique_combination_of_columns(model, combination_of_columns, quote_columns=false, where=none) %}
{%- if combination_of_columns is string or combination_of_columns | length == 0 -%}
{{ exceptions.raise_compiler_error("unique_combination_of_columns: combination_of_columns must be a non-empty list of column names") }}
{%- endif -%}
{%- set columns = [] -%}
{%- for c in combination_of_columns -%}
{%- do columns.append(adapter.quote(c) if quote_columns else c) -%}
{%- endfor -%}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
{% if where %}where {{ where }}{% endif %}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% macro as_of_date() -%}
{#- The course's "today": var as_of_date rendered as a DATE literal. Models never read the clock. -#}
{%- set value = var('as_of_date') | string -%}
{%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
{{ exceptions.raise_compiler_error("var as_of_date must be a date written YYYY-MM-DD (got '" ~ value ~ "'); e.g. dbt build --vars '{as_of_date: 2025-12-31}'") }}
{%- endif -%}
date '{{ value }}'
{%- endmacro %}

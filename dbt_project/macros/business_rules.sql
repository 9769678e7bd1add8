{% macro revenue_order_statuses() -%}
{#- SQL list of the order statuses that count as revenue (var revenue_order_statuses). -#}
({% for s in var('revenue_order_statuses') %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{% macro is_revenue_status(column_name) -%}
{#- True when the order status counts as revenue. -#}
({{ column_name }} in {{ revenue_order_statuses() }})
{%- endmacro %}

{% macro is_festival_season(date_column) -%}
{#- True for dates in the festival months (var festival_season_months, Sep-Nov). -#}
(month({{ date_column }}) in ({{ var('festival_season_months') | join(', ') }}))
{%- endmacro %}

{% macro safe_ratio(numerator, denominator, scale=4) -%}
{#- numerator / denominator as DECIMAL(18, scale), NULL when the denominator is 0 or NULL. -#}
cast(round(cast({{ numerator }} as double) / nullif({{ denominator }}, 0), {{ scale }}) as decimal(18, {{ scale }}))
{%- endmacro %}

{% macro safe_percent(numerator, denominator, scale=1) -%}
{#- 100 * numerator / denominator as DECIMAL(9, scale), NULL when the denominator is 0 or NULL. -#}
cast(round(100.0 * cast({{ numerator }} as double) / nullif({{ denominator }}, 0), {{ scale }}) as decimal(9, {{ scale }}))
{%- endmacro %}

-- Grain: one row per customer account. Numeric model-ready features (no NULLs:
-- missing activity is 0, missing rates are 0 with a has_* flag), as of as_of_date.
with overview as (
    select * from {{ ref('mart_customer_overview') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

item_features as (
    select
        customer_id,
        count(distinct product_category) as distinct_categories_bought,
        count(*) filter (where {{ is_festival_season('order_date') }}) as festival_units,
        count(*) as units_bought
    from order_items
    where is_revenue_order
    group by customer_id
),

final as (
    select
        ov.customer_id,
        ov.customer_age_days,
        ov.order_count,
        coalesce(co.orders_placed, 0) as orders_placed,
        ov.total_spend,
        coalesce(ov.avg_order_value, 0) as avg_order_value,
        coalesce(ov.days_since_last_order, ov.customer_age_days) as recency_days,
        coalesce(ov.purchase_frequency_days, 0) as purchase_frequency_days,
        ov.website_visits,
        ov.product_views,
        ov.cart_additions,
        ov.abandoned_cart_count,
        {{ safe_ratio('ov.cart_additions', 'ov.product_views') }} as cart_per_view_ratio,
        ov.email_open_rate is not null as has_email_history,
        coalesce(ov.email_open_rate, 0) as email_open_rate,
        coalesce(ov.email_click_rate, 0) as email_click_rate,
        coalesce(if_.distinct_categories_bought, 0) as distinct_categories_bought,
        coalesce(if_.units_bought, 0) as units_bought,
        coalesce({{ safe_ratio('if_.festival_units', 'if_.units_bought') }}, 0)
            as festival_unit_share,
        coalesce({{ safe_ratio('co.cancelled_order_count', 'co.orders_placed') }}, 0)
            as cancel_rate,
        coalesce({{ safe_ratio('co.returned_order_count', 'co.orders_placed') }}, 0)
            as return_rate,
        ov.lifecycle_stage in ('At Risk', 'Reactivation Candidate', 'Lapsing', 'Churned')
            as is_churn_risk_label
    from overview as ov
    left join customer_orders as co on ov.customer_id = co.customer_id
    left join item_features as if_ on ov.customer_id = if_.customer_id
)

select * from final

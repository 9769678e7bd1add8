-- EXERCISE 5.1 STARTING POINT: the model as a colleague wrote it (the seed's original),
-- unchanged except that "now" is the as_of_date macro instead of current_timestamp().
-- Exercise 5.1 profiles it and writes int_customer_behavior_optimized.
select
    c.customer_id,
    c.customer_unique_id,
    c.customer_city,
    c.customer_state,
    count(distinct o.order_id) as order_count,
    sum(o.order_total) as total_spend,
    avg(o.order_total) as avg_order_value,
    min(o.order_date) as first_order_date,
    max(o.order_date) as last_order_date,
    datediff('day', min(o.order_date), max(o.order_date)) as customer_lifetime_days,
    datediff('day', max(o.order_date), {{ as_of_date() }}) as days_since_last_order,
    count(distinct cs.session_id) as total_sessions,
    count(distinct case when cs.event_type = 'product_view' then cs.event_id end)
        as product_view_count,
    count(distinct case when cs.event_type = 'cart_add' then cs.event_id end) as cart_add_count,
    count(distinct case when cs.event_type = 'purchase' then cs.event_id end)
        as purchase_event_count
from {{ ref('stg_customers') }} as c
left join {{ ref('stg_orders') }} as o on c.customer_id = o.customer_id
left join {{ ref('stg_clickstream') }} as cs on c.customer_id = cs.customer_id
group by c.customer_id, c.customer_unique_id, c.customer_city, c.customer_state

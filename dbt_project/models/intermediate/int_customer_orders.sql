-- One row per customer who placed at least one order (any status).
-- Revenue metrics count only revenue orders (var revenue_order_statuses).
with orders as (
    select * from {{ ref('stg_orders') }}
),

revenue_orders as (
    select
        customer_id,
        order_id,
        order_date,
        order_total,
        lag(order_date) over (
            partition by customer_id order by order_date, order_timestamp, order_id
        ) as previous_order_date,
        row_number() over (
            partition by customer_id order by order_date desc, order_timestamp desc, order_id desc
        ) as recency_rank
    from orders
    where is_revenue_order
),

revenue_metrics as (
    select
        customer_id,
        count(*) as order_count,
        sum(order_total) as total_spend,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        max(case when recency_rank = 1 then previous_order_date end) as previous_order_date
    from revenue_orders
    group by customer_id
),

all_order_metrics as (
    select
        customer_id,
        count(*) as orders_placed,
        count(*) filter (where order_status = 'cancelled') as cancelled_order_count,
        count(*) filter (where order_status = 'returned') as returned_order_count,
        min(order_date) as first_order_placed_date
    from orders
    group by customer_id
),

final as (
    select
        a.customer_id,
        a.orders_placed,
        a.cancelled_order_count,
        a.returned_order_count,
        a.first_order_placed_date,
        coalesce(r.order_count, 0) as order_count,
        cast(coalesce(r.total_spend, 0) as decimal(14, 2)) as total_spend,
        cast(round(r.total_spend / r.order_count, 2) as decimal(12, 2)) as avg_order_value,
        r.first_order_date,
        r.last_order_date,
        r.previous_order_date,
        date_diff('day', r.previous_order_date, r.last_order_date) as days_between_last_two_orders
    from all_order_metrics as a
    left join revenue_metrics as r on a.customer_id = r.customer_id
)

select * from final

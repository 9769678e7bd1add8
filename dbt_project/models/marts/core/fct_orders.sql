-- One row per order, with its items, cost, profit and payments.
with orders as (
    select * from {{ ref('stg_orders') }}
),

order_items as (
    select * from {{ ref('stg_order_items') }}
),

payments as (
    select * from {{ ref('stg_payments') }}
),

item_summary as (
    select
        order_id,
        count(*) as item_count,
        count(distinct product_id) as distinct_product_count,
        sum(price) as items_total,
        sum(cost_price) as items_cost
    from order_items
    group by order_id
),

payment_summary as (
    select
        order_id,
        count(*) as payment_count,
        sum(payment_amount) as payment_total,
        arg_min(payment_method, payment_sequential) as primary_payment_method
    from payments
    group by order_id
),

final as (
    select
        o.order_id,
        o.customer_id,
        o.order_date,
        o.order_timestamp,
        o.order_status,
        o.is_revenue_order,
        o.order_total,
        coalesce(i.item_count, 0) as item_count,
        coalesce(i.distinct_product_count, 0) as distinct_product_count,
        cast(coalesce(i.items_cost, 0) as decimal(12, 2)) as order_cost,
        cast(o.order_total - coalesce(i.items_cost, 0) as decimal(12, 2)) as order_profit,
        coalesce(p.payment_count, 0) as payment_count,
        cast(coalesce(p.payment_total, 0) as decimal(12, 2)) as payment_total,
        p.primary_payment_method,
        {{ is_festival_season('o.order_date') }} as is_festival_season,
        dayofweek(o.order_date) in (0, 6) as is_weekend
    from orders as o
    left join item_summary as i on o.order_id = i.order_id
    left join payment_summary as p on o.order_id = p.order_id
)

select * from final

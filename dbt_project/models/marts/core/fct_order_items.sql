-- One row per unit sold (order_item_id), with its order's date, status and customer.
with order_items as (
    select * from {{ ref('stg_order_items') }}
),

orders as (
    select * from {{ ref('stg_orders') }}
),

products as (
    select * from {{ ref('stg_products') }}
),

final as (
    select
        oi.order_item_id,
        oi.order_id,
        oi.product_id,
        o.customer_id,
        o.order_date,
        o.order_status,
        o.is_revenue_order,
        p.product_category,
        oi.price,
        oi.cost_price,
        cast(oi.price - oi.cost_price as decimal(12, 2)) as profit,
        oi.price < oi.cost_price as is_sold_below_cost
    from order_items as oi
    inner join orders as o on oi.order_id = o.order_id
    left join products as p on oi.product_id = p.product_id
)

select * from final

-- One row per customer account, with its lifetime order summary.
with customers as (
    select * from {{ ref('stg_customers') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

final as (
    select
        c.customer_id,
        c.customer_unique_id,
        c.customer_city,
        c.customer_state,
        c.customer_signup_date,
        date_diff('day', c.customer_signup_date, {{ as_of_date() }}) as customer_age_days,
        coalesce(o.orders_placed, 0) as orders_placed,
        coalesce(o.order_count, 0) as order_count,
        cast(coalesce(o.total_spend, 0) as decimal(14, 2)) as total_spend,
        o.first_order_date,
        o.last_order_date,
        coalesce(o.order_count, 0) >= 2 as is_repeat_customer
    from customers as c
    left join customer_orders as o on c.customer_id = o.customer_id
)

select * from final

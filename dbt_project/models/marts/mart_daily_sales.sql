-- Grain: one row per calendar day from the first order date to as_of_date
-- (days without orders are kept, with zeros). Revenue = revenue orders only.
with orders as (
    select * from {{ ref('fct_orders') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

daily_orders as (
    select
        order_date,
        count(*) as orders_placed,
        count(*) filter (where is_revenue_order) as revenue_order_count,
        count(*) filter (where order_status = 'cancelled') as cancelled_order_count,
        count(*) filter (where order_status = 'returned') as returned_order_count,
        count(distinct customer_id) filter (where is_revenue_order) as buying_customer_count,
        sum(item_count) filter (where is_revenue_order) as units_sold,
        sum(order_total) filter (where is_revenue_order) as gross_revenue,
        sum(order_cost) filter (where is_revenue_order) as cost_of_goods,
        sum(order_profit) filter (where is_revenue_order) as gross_profit
    from orders
    group by order_date
),

calendar as (
    select
        date_day,
        day_name,
        is_weekend,
        is_festival_season
    from dates
    where
        date_day between (select min(orders.order_date) as first_order_date from orders)
        and {{ as_of_date() }}
),

final as (
    select
        cal.date_day as sales_date,
        cal.day_name,
        cal.is_weekend,
        cal.is_festival_season,
        coalesce(d.orders_placed, 0) as orders_placed,
        coalesce(d.revenue_order_count, 0) as revenue_order_count,
        coalesce(d.cancelled_order_count, 0) as cancelled_order_count,
        coalesce(d.returned_order_count, 0) as returned_order_count,
        coalesce(d.buying_customer_count, 0) as buying_customer_count,
        coalesce(d.units_sold, 0) as units_sold,
        cast(coalesce(d.gross_revenue, 0) as decimal(14, 2)) as gross_revenue,
        cast(coalesce(d.cost_of_goods, 0) as decimal(14, 2)) as cost_of_goods,
        cast(coalesce(d.gross_profit, 0) as decimal(14, 2)) as gross_profit,
        cast(round(d.gross_revenue / nullif(d.revenue_order_count, 0), 2) as decimal(12, 2))
            as avg_order_value
    from calendar as cal
    left join daily_orders as d on cal.date_day = d.order_date
)

select * from final

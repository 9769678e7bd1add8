-- Grain: one row per calendar month from the first order month to the as_of month.
-- Gross revenue counts revenue orders only; cancelled and returned value are shown apart.
-- Marketing spend: each campaign's budget in the month it starts.
with orders as (
    select * from {{ ref('fct_orders') }}
),

payments as (
    select * from {{ ref('stg_payments') }}
),

campaigns as (
    select * from {{ ref('stg_marketing_campaigns') }}
),

dates as (
    select * from {{ ref('dim_date') }}
),

monthly_orders as (
    select
        cast(date_trunc('month', order_date) as date) as month_start_date,
        count(*) filter (where is_revenue_order) as revenue_order_count,
        sum(order_total) filter (where is_revenue_order) as gross_revenue,
        sum(order_cost) filter (where is_revenue_order) as cost_of_goods,
        sum(order_profit) filter (where is_revenue_order) as gross_profit,
        sum(order_total) filter (where order_status = 'cancelled') as cancelled_value,
        sum(order_total) filter (where order_status = 'returned') as returned_value
    from orders
    group by month_start_date
),

monthly_payments as (
    select
        cast(date_trunc('month', o.order_date) as date) as month_start_date,
        sum(p.payment_amount) filter (where o.is_revenue_order) as payments_collected,
        sum(p.payment_amount) filter (
            where o.is_revenue_order and p.payment_method = 'cod'
        ) as cod_payments
    from payments as p
    inner join orders as o on p.order_id = o.order_id
    group by month_start_date
),

monthly_marketing as (
    select
        cast(date_trunc('month', start_date) as date) as month_start_date,
        sum(budget) as marketing_spend
    from campaigns
    group by month_start_date
),

months as (
    select distinct month_start_date
    from dates
    where
        date_day between (select min(orders.order_date) as first_order_date from orders)
        and {{ as_of_date() }}
),

final as (
    select
        m.month_start_date,
        coalesce(o.revenue_order_count, 0) as revenue_order_count,
        cast(coalesce(o.gross_revenue, 0) as decimal(14, 2)) as gross_revenue,
        cast(coalesce(o.cost_of_goods, 0) as decimal(14, 2)) as cost_of_goods,
        cast(coalesce(o.gross_profit, 0) as decimal(14, 2)) as gross_profit,
        {{ safe_percent('o.gross_profit', 'o.gross_revenue') }} as gross_margin_pct,
        cast(coalesce(o.cancelled_value, 0) as decimal(14, 2)) as cancelled_value,
        cast(coalesce(o.returned_value, 0) as decimal(14, 2)) as returned_value,
        cast(round(o.gross_revenue / nullif(o.revenue_order_count, 0), 2) as decimal(12, 2))
            as avg_order_value,
        cast(coalesce(p.payments_collected, 0) as decimal(14, 2)) as payments_collected,
        {{ safe_percent('p.cod_payments', 'p.payments_collected') }} as cod_share_pct,
        cast(coalesce(mk.marketing_spend, 0) as decimal(14, 2)) as marketing_spend,
        cast(coalesce(o.gross_profit, 0) - coalesce(mk.marketing_spend, 0) as decimal(14, 2))
            as profit_after_marketing
    from months as m
    left join monthly_orders as o on m.month_start_date = o.month_start_date
    left join monthly_payments as p on m.month_start_date = p.month_start_date
    left join monthly_marketing as mk on m.month_start_date = mk.month_start_date
)

select * from final

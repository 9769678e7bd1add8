-- Grain: one row per product, its stock at the latest snapshot on or before as_of_date.
with inventory as (
    select * from {{ ref('stg_inventory') }}
),

products as (
    select * from {{ ref('dim_products') }}
),

latest_snapshot as (
    select *
    from inventory
    where snapshot_date <= {{ as_of_date() }}
    qualify row_number() over (partition by product_id order by snapshot_date desc) = 1
),

trailing_30_days as (
    select
        product_id,
        cast(round(avg(stock_level), 1) as decimal(12, 1)) as avg_stock_level_30d,
        min(stock_level) as min_stock_level_30d,
        count(*) filter (where stock_level = 0) as out_of_stock_days_30d
    from inventory
    where
        snapshot_date > {{ as_of_date() }} - interval 30 day
        and snapshot_date <= {{ as_of_date() }}
    group by product_id
),

final as (
    select
        p.product_id,
        p.product_name,
        p.product_category,
        p.product_subcategory,
        p.brand,
        s.snapshot_date,
        s.stock_level,
        s.daily_sales_rate,
        cast(round(s.stock_level / nullif(s.daily_sales_rate, 0), 1) as decimal(12, 1))
            as days_of_inventory,
        t.avg_stock_level_30d,
        t.min_stock_level_30d,
        coalesce(t.out_of_stock_days_30d, 0) as out_of_stock_days_30d,
        case
            when s.stock_level is null then 'No Snapshot'
            when s.stock_level <= 0 then 'Out of Stock'
            when s.daily_sales_rate = 0 then 'No Recent Sales'
            when s.stock_level / s.daily_sales_rate < {{ var('inventory_low_stock_days') }}
                then 'Low Stock'
            when s.stock_level / s.daily_sales_rate > {{ var('inventory_overstock_days') }}
                then 'Overstock'
            else 'Healthy'
        end as stock_status
    from products as p
    left join latest_snapshot as s on p.product_id = s.product_id
    left join trailing_30_days as t on p.product_id = t.product_id
)

select * from final

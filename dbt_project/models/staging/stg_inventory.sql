with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_inventory') }}
),

renamed as (
    select
        cast(snapshot_date as date) as snapshot_date,
        product_id,
        cast(stock_level as integer) as stock_level,
        cast(daily_sales_rate as decimal(10, 2)) as daily_sales_rate
    from source
)

select * from renamed

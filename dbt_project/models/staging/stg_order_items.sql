with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_order_items') }}
),

renamed as (
    select
        order_item_id,
        order_id,
        product_id,
        cast(price as decimal(12, 2)) as price,
        cast(cost_price as decimal(12, 2)) as cost_price
    from source
)

select * from renamed

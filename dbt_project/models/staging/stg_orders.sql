with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_orders') }}
),

renamed as (
    select
        order_id,
        customer_id,
        cast(order_date as date) as order_date,
        cast(order_timestamp as timestamp) as order_timestamp,
        order_status,
        cast(order_total as decimal(12, 2)) as order_total,
        {{ is_revenue_status('order_status') }} as is_revenue_order
    from source
)

select * from renamed

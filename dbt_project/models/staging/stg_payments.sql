with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_payments') }}
),

renamed as (
    select
        payment_id,
        order_id,
        cast(payment_sequential as integer) as payment_sequential,
        payment_method,
        cast(payment_amount as decimal(12, 2)) as payment_amount
    from source
)

select * from renamed

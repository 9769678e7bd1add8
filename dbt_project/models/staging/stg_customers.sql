with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_customers') }}
),

renamed as (
    select
        customer_id,
        customer_unique_id,
        customer_city,
        customer_state,
        cast(signup_date as date) as customer_signup_date
    from source
)

select * from renamed

with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_products') }}
),

renamed as (
    select
        product_id,
        product_name,
        product_category,
        product_subcategory,
        brand,
        cast(list_price as decimal(12, 2)) as list_price,
        cast(launch_date as date) as launch_date
    from source
)

select * from renamed

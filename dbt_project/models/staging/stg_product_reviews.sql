with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_product_reviews') }}
),

renamed as (
    select
        review_id,
        product_id,
        customer_id,
        order_id,
        cast(review_score as integer) as review_score,
        cast(review_date as date) as review_date
    from source
)

select * from renamed

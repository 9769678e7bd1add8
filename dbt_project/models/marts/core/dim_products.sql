-- One row per product, with its review summary.
with products as (
    select * from {{ ref('stg_products') }}
),

reviews as (
    select * from {{ ref('stg_product_reviews') }}
),

review_summary as (
    select
        product_id,
        count(*) as review_count,
        cast(round(avg(review_score), 2) as decimal(4, 2)) as avg_review_score
    from reviews
    group by product_id
),

final as (
    select
        p.product_id,
        p.product_name,
        p.product_category,
        p.product_subcategory,
        p.brand,
        p.list_price,
        p.launch_date,
        coalesce(r.review_count, 0) as review_count,
        r.avg_review_score
    from products as p
    left join review_summary as r on p.product_id = r.product_id
)

select * from final

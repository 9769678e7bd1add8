-- Grain: one row per event_date and device (all customers and anonymous visitors).
with events as (
    select * from {{ ref('int_clickstream_events') }}
),

daily as (
    select
        event_date,
        device,
        count(*) as event_count,
        count(distinct session_id) as session_count,
        count(distinct customer_id) as known_customer_count,
        count(*) filter (where is_anonymous) as anonymous_event_count,
        count(*) filter (where event_type = 'page_view') as page_view_count,
        count(*) filter (where event_type = 'search') as search_count,
        count(*) filter (where is_product_view_event) as product_view_count,
        count(*) filter (where is_cart_add_event) as cart_add_count,
        count(*) filter (where is_cart_remove_event) as cart_remove_count,
        count(*) filter (where is_checkout_event) as checkout_count,
        count(*) filter (where is_purchase_event) as purchase_event_count
    from events
    group by event_date, device
),

final as (
    select
        *,
        {{ safe_percent('cart_add_count', 'product_view_count') }} as view_to_cart_rate,
        {{ safe_percent('purchase_event_count', 'product_view_count') }} as view_to_purchase_rate
    from daily
)

select * from final

-- One row per (deduplicated) clickstream event, with the date and the event flags
-- that every downstream model would otherwise re-derive.
with clickstream as (
    select * from {{ ref('stg_clickstream') }}
),

enriched as (
    select
        event_id,
        session_id,
        customer_id,
        event_timestamp,
        cast(event_timestamp as date) as event_date,
        cast(hour(event_timestamp) as integer) as event_hour,
        event_type,
        page_type,
        product_id,
        device,
        browser,
        _loaded_at,
        cast(date_diff('hour', event_timestamp, _loaded_at) as integer) as load_delay_hours,
        customer_id is null as is_anonymous,
        event_type = 'product_view' as is_product_view_event,
        event_type = 'cart_add' as is_cart_add_event,
        event_type = 'cart_remove' as is_cart_remove_event,
        event_type = 'checkout' as is_checkout_event,
        event_type = 'purchase' as is_purchase_event
    from clickstream
)

select * from enriched

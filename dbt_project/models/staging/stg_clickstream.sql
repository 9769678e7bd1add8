-- A plain view on purpose: exercise 5.2 turns it into stg_clickstream_incremental.
-- Re-delivered events (same event_id, later _loaded_at) are deduplicated here,
-- keeping the latest delivery (ties broken on the remaining columns, so the pick is
-- deterministic).
with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_clickstream') }}
),

renamed as (
    select
        event_id,
        session_id,
        customer_id,
        cast(event_timestamp as timestamp) as event_timestamp,
        event_type,
        page_type,
        product_id,
        device,
        browser,
        cast(_loaded_at as timestamp) as _loaded_at
    from source
),

deduplicated as (
    select *
    from renamed
    qualify row_number() over (
        partition by event_id
        order by
            _loaded_at desc, event_timestamp desc, session_id asc, event_type asc, page_type asc
    ) = 1
)

select * from deduplicated

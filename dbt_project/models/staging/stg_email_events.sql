with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_email_events') }}
),

renamed as (
    select
        email_event_id,
        campaign_id,
        customer_id,
        event_type,
        cast(event_timestamp as timestamp) as event_timestamp
    from source
)

select * from renamed

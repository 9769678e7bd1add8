with source as (
    select * from {{ source('vyaparbazaar_raw', 'vyaparbazaar_marketing_campaigns') }}
),

renamed as (
    select
        campaign_id,
        campaign_name,
        channel,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        cast(budget as decimal(12, 2)) as budget,
        target_segment
    from source
)

select * from renamed

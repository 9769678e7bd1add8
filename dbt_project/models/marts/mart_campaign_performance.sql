-- Grain: one row per marketing campaign. Email funnel counts come from email_events
-- (only email campaigns have them). Attributed revenue: revenue orders placed by a
-- customer within var campaign_attribution_days days after clicking one of the
-- campaign's emails (each order attributed at most once per campaign).
with campaigns as (
    select * from {{ ref('stg_marketing_campaigns') }}
),

email_events as (
    select * from {{ ref('stg_email_events') }}
),

orders as (
    select * from {{ ref('fct_orders') }}
),

email_funnel as (
    select
        campaign_id,
        count(distinct customer_id) filter (where event_type = 'sent') as recipients,
        count(*) filter (where event_type = 'sent') as emails_sent,
        count(distinct customer_id) filter (where event_type = 'open') as unique_opens,
        count(distinct customer_id) filter (where event_type = 'click') as unique_clicks
    from email_events
    group by campaign_id
),

first_clicks as (
    select
        campaign_id,
        customer_id,
        min(cast(event_timestamp as date)) as first_click_date
    from email_events
    where event_type = 'click'
    group by campaign_id, customer_id
),

attributed_orders as (
    select distinct
        fc.campaign_id,
        o.order_id,
        o.customer_id,
        o.order_total
    from first_clicks as fc
    inner join orders as o
        on
            fc.customer_id = o.customer_id
            and o.is_revenue_order
            and o.order_date between fc.first_click_date
            and fc.first_click_date + interval {{ var('campaign_attribution_days') }} day
),

attribution as (
    select
        campaign_id,
        count(*) as attributed_orders,
        count(distinct customer_id) as converted_customers,
        sum(order_total) as attributed_revenue
    from attributed_orders
    group by campaign_id
),

final as (
    select
        c.campaign_id,
        c.campaign_name,
        c.channel,
        c.target_segment,
        c.start_date,
        c.end_date,
        date_diff('day', c.start_date, c.end_date) + 1 as campaign_days,
        c.budget,
        coalesce(f.recipients, 0) as recipients,
        coalesce(f.emails_sent, 0) as emails_sent,
        coalesce(f.unique_opens, 0) as unique_opens,
        coalesce(f.unique_clicks, 0) as unique_clicks,
        {{ safe_percent('f.unique_opens', 'f.recipients') }} as open_rate,
        {{ safe_percent('f.unique_clicks', 'f.recipients') }} as click_rate,
        coalesce(a.attributed_orders, 0) as attributed_orders,
        coalesce(a.converted_customers, 0) as converted_customers,
        cast(coalesce(a.attributed_revenue, 0) as decimal(14, 2)) as attributed_revenue,
        {{ safe_ratio('coalesce(a.attributed_revenue, 0) - c.budget', 'c.budget') }}
            as return_on_spend
    from campaigns as c
    left join email_funnel as f on c.campaign_id = f.campaign_id
    left join attribution as a on c.campaign_id = a.campaign_id
)

select * from final

-- One row per customer account: profile, purchases, engagement and segments
-- (the columns of the stakeholder guide's data dictionary, exercise 5.5).
-- Every source is aggregated to one row per customer BEFORE the joins (no fan-out);
-- every ranking has a deterministic tie-break; thresholds are vars (docs: segments).
with customers as (
    select * from {{ ref('stg_customers') }}
),

customer_orders as (
    select * from {{ ref('int_customer_orders') }}
),

clickstream as (
    select * from {{ ref('int_clickstream_events') }}
),

email_events as (
    select * from {{ ref('stg_email_events') }}
),

order_items as (
    select * from {{ ref('fct_order_items') }}
),

session_activity as (
    select
        customer_id,
        session_id,
        count(*) filter (where is_product_view_event) as product_views,
        count(*) filter (where is_cart_add_event) as cart_additions,
        bool_or(is_purchase_event) as has_purchase
    from clickstream
    where not is_anonymous
    group by customer_id, session_id
),

web_metrics as (
    select
        customer_id,
        count(*) as website_visits,
        sum(product_views) as product_views,
        sum(cart_additions) as cart_additions,
        count(*) filter (where cart_additions > 0 and not has_purchase) as abandoned_cart_count
    from session_activity
    group by customer_id
),

campaign_emails as (
    select
        customer_id,
        campaign_id,
        bool_or(event_type = 'sent') as was_sent,
        bool_or(event_type = 'open') as was_opened,
        bool_or(event_type = 'click') as was_clicked
    from email_events
    group by customer_id, campaign_id
),

email_metrics as (
    select
        customer_id,
        count(*) filter (where was_sent) as emails_sent,
        count(*) filter (where was_sent and was_opened) as emails_opened,
        count(*) filter (where was_sent and was_clicked) as emails_clicked
    from campaign_emails
    group by customer_id
),

category_ranks as (
    select
        customer_id,
        product_category,
        row_number() over (
            partition by customer_id
            order by count(*) desc, sum(price) desc, product_category
        ) as category_rank
    from order_items
    where is_revenue_order
    group by customer_id, product_category
),

category_preferences as (
    select
        customer_id,
        max(product_category) filter (where category_rank = 1) as preferred_product_category,
        max(product_category) filter (where category_rank = 2) as second_preferred_category
    from category_ranks
    group by customer_id
),

joined as (
    select
        c.customer_id,
        c.customer_unique_id,
        c.customer_city,
        c.customer_state,
        c.customer_signup_date,
        date_diff('day', c.customer_signup_date, {{ as_of_date() }}) as customer_age_days,
        coalesce(o.order_count, 0) as order_count,
        cast(coalesce(o.total_spend, 0) as decimal(14, 2)) as total_spend,
        o.avg_order_value,
        o.first_order_date,
        o.last_order_date,
        date_diff('day', o.last_order_date, {{ as_of_date() }}) as days_since_last_order,
        date_diff('day', o.first_order_date, {{ as_of_date() }}) as days_since_first_order,
        o.days_between_last_two_orders,
        case
            when o.order_count >= 2
                then cast(
                    round(
                        date_diff('day', o.first_order_date, o.last_order_date)
                        / (o.order_count - 1),
                        1
                    )
                    as decimal(10, 1)
                )
        end as purchase_frequency_days,
        coalesce(w.website_visits, 0) as website_visits,
        coalesce(w.product_views, 0) as product_views,
        coalesce(w.cart_additions, 0) as cart_additions,
        coalesce(w.abandoned_cart_count, 0) as abandoned_cart_count,
        {{ safe_percent('e.emails_opened', 'e.emails_sent') }} as email_open_rate,
        {{ safe_percent('e.emails_clicked', 'e.emails_sent') }} as email_click_rate,
        p.preferred_product_category,
        p.second_preferred_category
    from customers as c
    left join customer_orders as o on c.customer_id = o.customer_id
    left join web_metrics as w on c.customer_id = w.customer_id
    left join email_metrics as e on c.customer_id = e.customer_id
    left join category_preferences as p on c.customer_id = p.customer_id
),

segmented as (
    select
        *,
        case
            when order_count = 0 then 'No Orders'
            when days_since_last_order <= {{ var('recency_recent_max_days') }} then 'Recent'
            when days_since_last_order <= {{ var('recency_moderate_max_days') }} then 'Moderate'
            else 'Lapsed'
        end as recency_segment,
        case
            when order_count = 0 then 'No Orders'
            when order_count >= {{ var('frequency_high_min_orders') }} then 'High'
            when order_count >= {{ var('frequency_medium_min_orders') }} then 'Medium'
            when order_count >= 2 then 'Low'
            else 'One-time'
        end as frequency_segment,
        case
            when order_count = 0 then 'No Orders'
            when total_spend >= {{ var('monetary_high_min_spend') }} then 'High'
            when total_spend >= {{ var('monetary_medium_min_spend') }} then 'Medium'
            else 'Low'
        end as monetary_segment,
        case
            when order_count = 0
                then
                    case
                        when
                            date_diff('day', customer_signup_date, {{ as_of_date() }})
                            < {{ var('lifecycle_new_max_days') }} then 'New'
                        else 'Prospect'
                    end
            when days_since_first_order < {{ var('lifecycle_new_max_days') }} then 'New'
            when
                days_since_last_order <= {{ var('lifecycle_active_max_days') }}
                and days_between_last_two_orders > {{ var('lifecycle_churn_days') }}
                then 'Reactivated'
            when days_since_last_order <= {{ var('lifecycle_active_max_days') }} then 'Active'
            when days_since_last_order <= {{ var('lifecycle_at_risk_max_days') }} then 'At Risk'
            when
                days_since_last_order <= {{ var('lifecycle_reactivation_max_days') }}
                and order_count >= {{ var('lifecycle_reactivation_min_orders') }}
                then 'Reactivation Candidate'
            when days_since_last_order <= {{ var('lifecycle_churn_days') }} then 'Lapsing'
            else 'Churned'
        end as lifecycle_stage
    from joined
),

final as (
    select
        customer_id,
        customer_unique_id,
        customer_city,
        customer_state,
        customer_signup_date,
        customer_age_days,
        order_count,
        total_spend,
        avg_order_value,
        first_order_date,
        last_order_date,
        days_since_last_order,
        purchase_frequency_days,
        website_visits,
        product_views,
        cart_additions,
        abandoned_cart_count,
        email_open_rate,
        email_click_rate,
        preferred_product_category,
        second_preferred_category,
        recency_segment,
        frequency_segment,
        monetary_segment,
        case
            when order_count = 0 then 'Prospects'
            when
                recency_segment = 'Recent' and frequency_segment in ('High', 'Medium')
                and monetary_segment = 'High' then 'Champions'
            when recency_segment = 'Recent' and order_count >= 2 then 'Loyal Customers'
            when recency_segment = 'Recent' then 'Promising'
            when recency_segment = 'Moderate' and order_count >= 2 then 'At Risk'
            when recency_segment = 'Moderate' then 'Needs Attention'
            when monetary_segment = 'High' then 'Cannot Lose Them'
            when order_count >= 2 then 'Hibernating'
            else 'Lost'
        end as rfm_segment,
        lifecycle_stage
    from segmented
)

select * from final

-- Grain: one row per customer account. Rule-based (deterministic, no training)
-- value tier, engagement tier, churn-risk score 0-100 and a next-best-action label.
with features as (
    select * from {{ ref('ml_customer_features') }}
),

overview as (
    select
        customer_id,
        rfm_segment,
        lifecycle_stage
    from {{ ref('mart_customer_overview') }}
),

scored as (
    select
        f.customer_id,
        o.rfm_segment,
        o.lifecycle_stage,
        case
            when f.order_count = 0 then 'None'
            when f.total_spend >= {{ var('monetary_high_min_spend') }} then 'High'
            when f.total_spend >= {{ var('monetary_medium_min_spend') }} then 'Medium'
            else 'Low'
        end as value_tier,
        case
            when f.website_visits >= 20 or f.email_click_rate >= 20 then 'High'
            when f.website_visits >= 5 or f.email_open_rate >= 20 then 'Medium'
            else 'Low'
        end as engagement_tier,
        cast(least(100, greatest(0, round(
            least(f.recency_days, 180) / 180.0 * 60
            + case when f.order_count <= 1 then 20 when f.order_count = 2 then 10 else 0 end
            + least(f.abandoned_cart_count, 10) * 1.0
            + (f.return_rate + f.cancel_rate) * 10
        ))) as integer) as churn_risk_score
    from features as f
    inner join overview as o on f.customer_id = o.customer_id
),

final as (
    select
        customer_id,
        rfm_segment,
        lifecycle_stage,
        value_tier,
        engagement_tier,
        churn_risk_score,
        case
            when churn_risk_score >= 70 then 'High'
            when churn_risk_score >= 40 then 'Medium'
            else 'Low'
        end as churn_risk_band,
        case
            when value_tier = 'None' then 'Welcome Offer'
            when value_tier = 'High' and churn_risk_score >= 40 then 'Retention Call'
            when churn_risk_score >= 70 then 'Win Back'
            when engagement_tier = 'High' and value_tier in ('Low', 'Medium') then 'Upsell'
            when churn_risk_score >= 40 then 'Reminder'
            else 'Nurture'
        end as next_best_action,
        value_tier || ' value / ' || engagement_tier || ' engagement' as segment_name
    from scored
)

select * from final

"""The raw-data contract of DEVELOPING.md as Arrow schemas (one per raw table)."""

from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(12, 2)
RATE = pa.decimal128(10, 2)
TS = pa.timestamp("us")

SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [
            ("customer_id", pa.string()),
            ("customer_unique_id", pa.string()),
            ("customer_city", pa.string()),
            ("customer_state", pa.string()),
            ("signup_date", pa.date32()),
        ]
    ),
    "products": pa.schema(
        [
            ("product_id", pa.string()),
            ("product_name", pa.string()),
            ("product_category", pa.string()),
            ("product_subcategory", pa.string()),
            ("brand", pa.string()),
            ("list_price", MONEY),
            ("launch_date", pa.date32()),
        ]
    ),
    "orders": pa.schema(
        [
            ("order_id", pa.string()),
            ("customer_id", pa.string()),
            ("order_date", pa.date32()),
            ("order_timestamp", TS),
            ("order_status", pa.string()),
            ("order_total", MONEY),
        ]
    ),
    "order_items": pa.schema(
        [
            ("order_item_id", pa.string()),
            ("order_id", pa.string()),
            ("product_id", pa.string()),
            ("price", MONEY),
            ("cost_price", MONEY),
        ]
    ),
    "payments": pa.schema(
        [
            ("payment_id", pa.string()),
            ("order_id", pa.string()),
            ("payment_sequential", pa.int32()),
            ("payment_method", pa.string()),
            ("payment_amount", MONEY),
        ]
    ),
    "clickstream": pa.schema(
        [
            ("event_id", pa.string()),
            ("session_id", pa.string()),
            ("customer_id", pa.string()),
            ("event_timestamp", TS),
            ("event_type", pa.string()),
            ("page_type", pa.string()),
            ("product_id", pa.string()),
            ("device", pa.string()),
            ("browser", pa.string()),
            ("_loaded_at", TS),
        ]
    ),
    "inventory": pa.schema(
        [
            ("snapshot_date", pa.date32()),
            ("product_id", pa.string()),
            ("stock_level", pa.int32()),
            ("daily_sales_rate", RATE),
        ]
    ),
    "product_reviews": pa.schema(
        [
            ("review_id", pa.string()),
            ("product_id", pa.string()),
            ("customer_id", pa.string()),
            ("order_id", pa.string()),
            ("review_score", pa.int32()),
            ("review_date", pa.date32()),
        ]
    ),
    "marketing_campaigns": pa.schema(
        [
            ("campaign_id", pa.string()),
            ("campaign_name", pa.string()),
            ("channel", pa.string()),
            ("start_date", pa.date32()),
            ("end_date", pa.date32()),
            ("budget", MONEY),
            ("target_segment", pa.string()),
        ]
    ),
    "email_events": pa.schema(
        [
            ("email_event_id", pa.string()),
            ("campaign_id", pa.string()),
            ("customer_id", pa.string()),
            ("event_type", pa.string()),
            ("event_timestamp", TS),
        ]
    ),
}

TABLES: tuple[str, ...] = tuple(SCHEMAS)

-- One row per calendar day from var dim_date_start to var dim_date_end.
-- DuckDB's dayofweek is 0 = Sunday .. 6 = Saturday (not portable: see docs).
with days as (
    select cast(generate_series as date) as date_day
    from generate_series(
        cast('{{ var("dim_date_start") }}' as date),
        cast('{{ var("dim_date_end") }}' as date),
        interval 1 day
    )
),

final as (
    select
        date_day,
        cast(year(date_day) as integer) as year_number,
        cast(quarter(date_day) as integer) as quarter_number,
        cast(month(date_day) as integer) as month_number,
        monthname(date_day) as month_name,
        cast(day(date_day) as integer) as day_of_month,
        cast(dayofweek(date_day) as integer) as day_of_week,
        dayname(date_day) as day_name,
        cast(isodow(date_day) as integer) as iso_day_of_week,
        cast(weekofyear(date_day) as integer) as iso_week_number,
        cast(date_trunc('week', date_day) as date) as week_start_date,
        cast(date_trunc('month', date_day) as date) as month_start_date,
        cast(date_trunc('quarter', date_day) as date) as quarter_start_date,
        dayofweek(date_day) in (0, 6) as is_weekend,
        {{ is_festival_season('date_day') }} as is_festival_season,
        date_day <= {{ as_of_date() }} as is_on_or_before_as_of
    from days
)

select * from final

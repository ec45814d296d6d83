-- seed 001 dim_time: one row per calendar day from the first event day to the as-of date.
WITH bounds AS (
    SELECT least((SELECT min(date) FROM cur_dim_time), (SELECT min(event_date) FROM batch),
                 $as_of::DATE) AS lo,
           greatest((SELECT max(date) FROM cur_dim_time), (SELECT max(event_date) FROM batch),
                    $as_of::DATE) AS hi
),
days AS (
    SELECT d::DATE AS date FROM bounds, range(lo, hi + INTERVAL 1 DAY, INTERVAL 1 DAY) t(d)
)
SELECT
    (year(date) * 10000 + month(date) * 100 + day(date))::INTEGER AS date_key,
    date,
    year(date)::INTEGER AS year,
    quarter(date)::INTEGER AS quarter,
    month(date)::INTEGER AS month,
    day(date)::INTEGER AS day,
    weekofyear(date)::INTEGER AS iso_week,
    isodow(date)::INTEGER AS weekday,
    isodow(date) >= 6 AS is_weekend
FROM days

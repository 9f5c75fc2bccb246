-- analytics.realtime_health: Realtime connections, subscriptions and messages per second per
-- scrape of the project's metrics endpoint (raw.project_metrics), with Supabase Realtime's metric
-- names (summed over their labels, e.g. tenant):
--   connections:   realtime_connections_connected (gauge: WebSocket connections with a joined channel)
--   subscriptions: realtime_subscriptions_manager_subscribers (gauge: Postgres Changes subscribers)
--   messages:      realtime_channel_events + realtime_channel_presence_events + realtime_channel_db_events
--                  (counters; rate = increase / seconds since the previous scrape, NULL on the first
--                  scrape and after a counter reset)
-- Scrapes without any realtime_* sample are skipped. Parameters: $project.
with s as (
    select
        scraped_at,
        sum(value) filter (where metric = 'realtime_connections_connected') as connections,
        sum(value) filter (where metric = 'realtime_subscriptions_manager_subscribers') as subscriptions,
        sum(value) filter (where metric in ('realtime_channel_events', 'realtime_channel_presence_events',
                                            'realtime_channel_db_events')) as messages_total,
        count(*) filter (where metric like 'realtime\_%' escape '\') as realtime_samples
    from raw.project_metrics
    where project = $project
    group by scraped_at
),
w as (
    select *,
           lag(scraped_at) over (order by scraped_at) as previous_scraped_at,
           lag(messages_total) over (order by scraped_at) as previous_total
    from s
    where realtime_samples > 0
)
select
    $project as project,
    scraped_at,
    connections,
    subscriptions,
    case
        when previous_total is null or messages_total is null or messages_total < previous_total
             or epoch(scraped_at) <= epoch(previous_scraped_at) then null
        else (messages_total - previous_total) / (epoch(scraped_at) - epoch(previous_scraped_at))
    end as messages_per_second,
    previous_scraped_at
from w

-- analytics.realtime_health: Realtime connections, joined channels and messages per second per
-- scrape of the project's metrics endpoint (raw.project_metrics). Metric names differ between
-- Realtime versions, so each measure sums whichever of its known names is present:
--   connections: realtime_connections_connected, realtime_tenants_connected_clients
--   channels:    realtime_channel_subscriptions, realtime_channels_joined, realtime_postgres_changes_total_subscriptions
--   messages:    realtime_channel_events, realtime_messages_total (counters; rate = increase / seconds
--                since the previous scrape, NULL after a counter reset or on the first scrape)
-- Parameters: $project.
with s as (
    select
        scraped_at,
        sum(value) filter (where metric in ('realtime_connections_connected', 'realtime_tenants_connected_clients')) as connections,
        sum(value) filter (where metric in ('realtime_channel_subscriptions', 'realtime_channels_joined',
                                            'realtime_postgres_changes_total_subscriptions')) as channels,
        sum(value) filter (where metric in ('realtime_channel_events', 'realtime_messages_total')) as messages_total,
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
    channels,
    case
        when previous_total is null or messages_total is null or messages_total < previous_total
             or epoch(scraped_at) <= epoch(previous_scraped_at) then null
        else (messages_total - previous_total) / (epoch(scraped_at) - epoch(previous_scraped_at))
    end as messages_per_second,
    previous_scraped_at
from w

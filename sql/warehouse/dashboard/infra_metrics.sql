-- Dashboard: CPU, memory, disk and network per project and scrape from raw.project_metrics
-- (Prometheus node_exporter names as the metrics endpoint serves them), last 7 days of data.
-- Counters become rates between consecutive scrapes; a counter that went down (restart) gives NULL.
with bounds as (select max(scraped_at) as last_at from raw.project_metrics),
samples as (
    select project, scraped_at, metric, labels, value
    from raw.project_metrics, bounds
    where scraped_at > bounds.last_at - interval 7 day
      and metric in ('node_cpu_seconds_total', 'node_memory_MemTotal_bytes', 'node_memory_MemAvailable_bytes',
                     'node_filesystem_size_bytes', 'node_filesystem_avail_bytes',
                     'node_network_receive_bytes_total', 'node_network_transmit_bytes_total',
                     'pg_database_size_bytes')
),
per_scrape as (
    select project, scraped_at,
           sum(value) filter (where metric = 'node_cpu_seconds_total') as cpu_total_s,
           sum(value) filter (where metric = 'node_cpu_seconds_total'
                              and json_extract_string(labels, '$.mode') = 'idle') as cpu_idle_s,
           sum(value) filter (where metric = 'node_memory_MemTotal_bytes') as mem_total,
           sum(value) filter (where metric = 'node_memory_MemAvailable_bytes') as mem_available,
           max(value) filter (where metric = 'node_filesystem_size_bytes') as disk_size,
           min(value) filter (where metric = 'node_filesystem_avail_bytes'
                              and value <= 1e18) as disk_avail,
           sum(value) filter (where metric = 'node_network_receive_bytes_total'
                              and coalesce(json_extract_string(labels, '$.device'), '') <> 'lo') as net_rx,
           sum(value) filter (where metric = 'node_network_transmit_bytes_total'
                              and coalesce(json_extract_string(labels, '$.device'), '') <> 'lo') as net_tx,
           sum(value) filter (where metric = 'pg_database_size_bytes') as db_size
    from samples
    group by project, scraped_at
),
deltas as (
    select *,
           epoch(scraped_at) - epoch(lag(scraped_at) over w) as dt_s,
           cpu_total_s - lag(cpu_total_s) over w as d_cpu_total,
           cpu_idle_s - lag(cpu_idle_s) over w as d_cpu_idle,
           net_rx - lag(net_rx) over w as d_rx,
           net_tx - lag(net_tx) over w as d_tx
    from per_scrape
    window w as (partition by project order by scraped_at)
)
select project, scraped_at,
       case when d_cpu_total > 0 and d_cpu_idle >= 0
            then round(100.0 * (1 - d_cpu_idle / d_cpu_total), 2) end as cpu_percent,
       case when mem_total > 0 then round(100.0 * (1 - mem_available / mem_total), 2) end as memory_percent,
       round(mem_total - mem_available) as memory_used_bytes,
       case when disk_size > 0 then round(100.0 * (1 - disk_avail / disk_size), 2) end as disk_percent,
       db_size as database_bytes,
       case when dt_s > 0 and d_rx >= 0 then round(d_rx / dt_s, 1) end as net_rx_bytes_per_s,
       case when dt_s > 0 and d_tx >= 0 then round(d_tx / dt_s, 1) end as net_tx_bytes_per_s
from deltas
order by project, scraped_at

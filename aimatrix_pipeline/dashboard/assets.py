"""The monitoring dashboard asset (group `analytics`): the monitoring dashboard as a file.

It reads the warehouse (shared, read-only: it never blocks or waits on a writer for long) and
writes <warehouse dir>/dashboard/index.html and data.json. The materialization links the page
(path and file:// URL) and reports the figures people watch as numeric metadata, so the asset's
page in the Dagster UI plots them over materializations.
"""


import dagster as dg

from aimatrix_pipeline.dashboard import build as dashboard_build
from aimatrix_pipeline.dashboard.summary import headline, markdown_summary
from aimatrix_pipeline.resources.settings_resource import SettingsResource
from aimatrix_pipeline.resources.warehouse import WarehouseResource

DASHBOARD_KEY = dg.AssetKey(["analytics", "monitoring_dashboard"])
GROUP = "analytics"
OWNERS = ["team:data-platform"]
UPSTREAM = (
    dg.AssetKey(["analytics", "slow_queries_summary"]),
    dg.AssetKey(["analytics", "database_health"]),
    dg.AssetKey(["analytics", "optimization_recommendations"]),
    dg.AssetKey(["analytics", "index_suggestions"]),
    dg.AssetKey(["analytics", "api_latency_summary"]),  # also writes analytics.api_recommendations
    dg.AssetKey(["raw", "vector_query_logs"]),
    dg.AssetKey(["raw", "error_events"]),
    dg.AssetKey(["raw", "query_performance_logs"]),
    dg.AssetKey(["raw", "project_metrics"]),
    dg.AssetKey(["cost", "cost_breakdown_daily"]),
    dg.AssetKey(["cost", "monthly_cost_report"]),
    dg.AssetKey(["alerts", "alert_events"]),
)


@dg.asset(
    key=DASHBOARD_KEY,
    group_name=GROUP,
    deps=list(UPSTREAM),
    kinds={"duckdb", "html"},
    owners=OWNERS,
    description=(
        "A self-contained HTML monitoring dashboard (no network at view time): cost per day by "
        "line item with the month-end projection, statement time, cache hit ratio, connections, "
        "vector query p95, error rate, CPU/memory/disk/network from the metrics endpoint, open "
        "alerts and the top slow queries and recommendations, for the fleet and per project. "
        "Written next to the warehouse as dashboard/index.html (data in data.json); open it with "
        "`aimatrix-pipeline dashboard open`."
    ),
)
def monitoring_dashboard(context: dg.AssetExecutionContext, warehouse: WarehouseResource,
                         settings: SettingsResource) -> dg.MaterializeResult:
    result = dashboard_build.build(warehouse, settings=settings.get())
    figures = headline(result.data)
    context.log.info(f"dashboard written to {result.html}")
    metadata = {
        "dashboard_path": dg.MetadataValue.path(str(result.html)),
        "dashboard_url": dg.MetadataValue.url(result.html.as_uri()),
        "data_json": dg.MetadataValue.path(str(result.json)),
        "rows": dg.MetadataValue.int(result.data.row_count()),
        "summary": dg.MetadataValue.md(markdown_summary(result.data)),
        **{f"datasets/{name}": dg.MetadataValue.int(len(d.rows)) for name, d in result.data.datasets.items()},
    }
    for name, value in figures.items():
        if value is not None:
            metadata[name] = dg.MetadataValue.float(float(value))
    return dg.MaterializeResult(metadata=metadata)

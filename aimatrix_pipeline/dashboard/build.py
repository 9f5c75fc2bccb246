"""Build the dashboard files next to the warehouse: <warehouse dir>/dashboard/index.html (+ data.json).

Shared by the Dagster asset and the CLI, so both write the same page from the same queries.
`AIMATRIX_DASHBOARD_DIR` puts the files elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aimatrix_pipeline.dashboard import data as dashboard_data
from aimatrix_pipeline.dashboard.render import write_html
from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.settings import Settings, current_settings


def dashboard_dir(warehouse: WarehouseResource, settings: Settings | None = None) -> Path:
    """The settings' `AIMATRIX_DASHBOARD_DIR` (default: the current settings'), else beside the warehouse."""
    configured = (settings or current_settings()).dashboard_dir
    return Path(configured).expanduser().resolve() if configured else warehouse.file.parent / "dashboard"


@dataclass
class BuildResult:
    html: Path
    json: Path
    data: dashboard_data.DashboardData


def build(warehouse: WarehouseResource, out_dir: Path | None = None, settings: Settings | None = None) -> BuildResult:
    """Query the warehouse (read-only, shared lock) and write index.html and data.json."""
    out_dir = out_dir or dashboard_dir(warehouse, settings)
    with warehouse.reader() as conn:
        data = dashboard_data.collect(conn, str(warehouse.file))
    html = write_html(data, out_dir / "index.html")
    json_path = dashboard_data.write_json(data, out_dir / "data.json")
    return BuildResult(html, json_path, data)

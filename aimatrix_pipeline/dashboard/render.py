"""Render the dashboard page: the HTML template with the data sets embedded as JSON.

The page is one file with inline CSS, JavaScript and SVG charts, so it opens from disk, from a
mail attachment or behind a proxy with no network access at view time (its Content-Security-Policy
forbids any fetch). Python only serialises; the page draws.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from aimatrix_pipeline.dashboard.data import DashboardData

TEMPLATE = Path(__file__).with_name("template.html")
PLACEHOLDER = "__DASHBOARD_DATA__"


def render_html(data: DashboardData) -> str:
    payload = json.dumps(data.to_json_obj(), separators=(",", ":"), allow_nan=False)
    # inside <script>: "</" would end the element early, "<!--" could open a comment
    payload = payload.replace("</", "<\\/").replace("<!--", "<\\!--")
    return TEMPLATE.read_text().replace(PLACEHOLDER, payload, 1)


def write_html(data: DashboardData, path: Path) -> Path:
    """Write atomically (tmp + rename), so a browser or `dashboard serve` never reads half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(data))
    os.replace(tmp, path)
    return path

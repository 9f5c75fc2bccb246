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


# Characters a <script> element's text must not carry literally: "</script" would end the element,
# "<!--" switches the HTML parser into its script-data-escaped states, "&" and ">" are escaped for
# symmetry with any HTML-aware tooling, and U+2028/U+2029 are line terminators to pre-2019 JS
# engines. JSON allows each of them as a \uXXXX escape inside a string (and they can only occur
# inside strings), so the payload stays valid JSON that JSON.parse decodes to the same text.
# (Backslash escapes such as "<\!--" are not JSON: JSON.parse rejects the whole page's data.)
_SCRIPT_UNSAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def script_safe_json(obj) -> str:
    """JSON text that can sit verbatim inside <script type="application/json">...</script>."""
    payload = json.dumps(obj, separators=(",", ":"), allow_nan=False)
    return payload.translate(str.maketrans(_SCRIPT_UNSAFE))


def render_html(data: DashboardData) -> str:
    payload = script_safe_json(data.to_json_obj())
    return TEMPLATE.read_text().replace(PLACEHOLDER, payload, 1)


def write_html(data: DashboardData, path: Path) -> Path:
    """Write atomically (tmp + rename), so a browser or `dashboard serve` never reads half a page."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(render_html(data))
    os.replace(tmp, path)
    return path

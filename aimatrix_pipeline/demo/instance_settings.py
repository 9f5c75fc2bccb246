"""The demo instance's own settings, kept in its data directory.

Why: the demo's code location runs with settings only the demo knows (the monitoring role's
random password, the cluster's port, its projects file). A backfill on the demo's instance
(`aimatrix-pipeline dagster --data-dir .aimatrix-demo -- ...`) needs the same settings; without
them the user had to build SUPABASE_DB_URL by hand. So the demo writes them at each start to
`<data-dir>/instance_settings.json` (mode 0600: it holds the monitor's DSN with its password, as
`monitor_password` does), and `aimatrix-pipeline dagster` / `backfill` on that data directory read
them back. The values are never printed: only the variable names are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

SETTINGS_FILE = "instance_settings.json"
# what the demo's code location needs beyond DAGSTER_HOME and Dagster's storage (found by `watch`'s
# instance set-up in the same data directory): the source, the fleet file, the warehouse
INSTANCE_VARIABLES = ("SUPABASE_DB_URL", "AIMATRIX_PROJECTS_FILE", "AIMATRIX_WAREHOUSE", "AIMATRIX_ALERT_RULES",
                      "AIMATRIX_DEMO_SERVICE_ROLE_KEY")


def settings_path(data_dir: Path) -> Path:
    return Path(data_dir) / SETTINGS_FILE


def save_instance_settings(data_dir: Path, env: Mapping[str, str]) -> Path:
    """Write the instance variables of `env` to the data directory, readable by the owner only
    (written to a 0600 temporary file first and renamed: never visible half-written or readable)."""
    path = settings_path(data_dir)
    values = {name: env[name] for name in INSTANCE_VARIABLES if env.get(name)}
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"written_by": "aimatrix-pipeline demo", "environment": values}, fh, indent=1)
    os.replace(tmp, path)
    return path


def load_instance_settings(data_dir: Path) -> dict[str, str]:
    """The variables a demo saved in `data_dir` ({} when it holds no demo instance)."""
    path = settings_path(data_dir)
    if not path.exists():
        return {}
    try:
        doc = json.loads(path.read_text())
        values = doc["environment"]
    except (ValueError, KeyError, TypeError):
        from aimatrix_pipeline.settings import ConfigError

        raise ConfigError(f"{path} is damaged: start `aimatrix-pipeline demo --data-dir {data_dir}` once "
                          "to write it again") from None
    return {k: str(v) for k, v in values.items() if k in INSTANCE_VARIABLES and isinstance(v, str)}

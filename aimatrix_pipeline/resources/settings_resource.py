"""The `settings` resource: hands the typed `Settings` to assets, checks and sensors.

Why a resource and not a module-level object: a run should see the configuration as it is when
the run starts (an edited threshold, rules file or retention period applies to the next run
without reloading the code location), and a test can hand an asset settings built from its own
mapping (`SettingsResource(environment={...})`) instead of patching the process environment.
"""

from __future__ import annotations

from typing import Optional

import dagster as dg
from pydantic import PrivateAttr

from aimatrix_pipeline.settings import Settings, load_settings


class SettingsResource(dg.ConfigurableResource):
    """Yields the `Settings` built by `aimatrix_pipeline.settings.load_settings` once per run."""

    environment: Optional[dict[str, str]] = None
    """Variables to build the settings from instead of the process environment (tests, tools)."""

    _settings: Optional[Settings] = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._settings = load_settings(self.environment)

    def get(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.environment)
        return self._settings

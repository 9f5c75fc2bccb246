"""Partition definitions for the extract layer: one partition per monitored project."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.settings import load_settings

SETTINGS = load_settings()
PROJECTS_PARTITIONS = dg.StaticPartitionsDefinition(SETTINGS.project_names)

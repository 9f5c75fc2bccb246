"""Partition definitions for the extract layer: one partition per monitored project."""

from __future__ import annotations

import dagster as dg

from aimatrix_pipeline.settings import current_settings

SETTINGS = current_settings()  # definition time: the project list decides the partitions
PROJECTS_PARTITIONS = dg.StaticPartitionsDefinition(SETTINGS.project_names)

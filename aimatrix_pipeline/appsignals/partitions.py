"""Partitions of the appsignals domain: the extract layer's one-partition-per-project definition,
reused so API signals line up with the database signals of the same project."""

from aimatrix_pipeline.extract.partitions import PROJECTS_PARTITIONS

__all__ = ["PROJECTS_PARTITIONS"]

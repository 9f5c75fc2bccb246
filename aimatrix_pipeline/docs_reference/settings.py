"""docs/reference/settings.md: every environment variable, from the settings module's own table
(the same text `aimatrix-pipeline config reference` prints)."""

from __future__ import annotations


def render() -> str:
    from aimatrix_pipeline.settings import reference_markdown

    return reference_markdown()

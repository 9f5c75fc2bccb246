"""docs/reference/definitions.md: assets, checks, jobs, schedules and sensors of the code location.

Read from `aimatrix_pipeline.definitions:defs` itself (loaded with the default configuration), so
the page names exactly what the Dagster UI shows.
"""

from __future__ import annotations

import warnings

import dagster as dg

from aimatrix_pipeline.docs_reference import GENERATED_NOTE, cell, first_paragraph


def _partitions(partitions_def) -> str:
    if partitions_def is None:
        return "–"
    # with the partition key format: what `--partition` / `--partition-range` take
    if isinstance(partitions_def, dg.StaticPartitionsDefinition):
        return "per project (key: the project name, `default` in single-database mode)"
    if isinstance(partitions_def, dg.DailyPartitionsDefinition):
        return "daily (UTC; key `YYYY-MM-DD`)"
    if isinstance(partitions_def, dg.MonthlyPartitionsDefinition):
        return "monthly (UTC; key: the month's first day, `YYYY-MM-01`)"
    return type(partitions_def).__name__


def _job_assets(job) -> str:
    """The assets a job materializes (empty for a job that only runs checks or ops)."""
    keys = sorted(k.to_user_string() for k in job.asset_layer.selected_asset_keys)
    return ", ".join(f"`{k}`" for k in keys)


def render() -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # preview/beta notices of the Dagster APIs in use
        from aimatrix_pipeline.definitions import defs

        repo = defs.get_repository_def()
        graph = repo.asset_graph
        assets = sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string())
        checks = sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name))
        jobs = sorted((j for j in repo.get_all_jobs() if not j.name.startswith("__")), key=lambda j: j.name)
        lines = [GENERATED_NOTE.format(source="aimatrix_pipeline.definitions:defs"),
                 "# Dagster definitions", "",
                 "What the code location `aimatrix_pipeline.definitions:defs` holds, with the default "
                 "configuration (crons from the `AIMATRIX_*_CRON` variables' defaults). Every schedule "
                 "and sensor runs by default (`default_status=RUNNING`).", "",
                 "## Assets", "", f"{len(assets)} assets.", "",
                 "| asset | group | partitions | kinds | checks | description |",
                 "| --- | --- | --- | --- | --- | --- |"]
        for key in assets:
            node = graph.get(key)
            own = ", ".join(f"`{c.name}`" for c in checks if c.asset_key == key)
            lines.append(f"| `{key.to_user_string()}` | {node.group_name} | {_partitions(node.partitions_def)} | "
                         f"{', '.join(sorted(node.kinds))} | {own} | {cell(first_paragraph(node.description))} |")
        lines += ["", "## Asset checks", "", f"{len(checks)} checks. A failed check, blocking or not, becomes an alert through `alert_sensor` "
                  "([alerts](../alerts.md)).", "",
                  "| check | asset | blocking | description |", "| --- | --- | --- | --- |"]
        for key in checks:
            node = graph.get(key)
            lines.append(f"| `{key.name}` | `{key.asset_key.to_user_string()}` | "
                         f"{'yes' if node.blocking else 'no'} | {cell(first_paragraph(node.description))} |")
        lines += ["", "## Jobs", "", "| job | assets | description |", "| --- | --- | --- |"]
        for job in jobs:
            lines.append(f"| `{job.name}` | {_job_assets(job)} | {cell(first_paragraph(job.description))} |")
        schedules = sorted(repo.schedule_defs, key=lambda s: s.name)
        lines += ["", "## Schedules", "",
                  "| schedule | cron | timezone | job | default | description |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for s in schedules:
            lines.append(f"| `{s.name}` | `{s.cron_schedule}` | {s.execution_timezone or 'UTC'} | `{s.job_name}` | "
                         f"{s.default_status.value.lower()} | {cell(first_paragraph(s.description))} |")
        sensors = sorted(repo.sensor_defs, key=lambda s: s.name)
        lines += ["", "## Sensors", "",
                  "| sensor | minimum interval | default | description |", "| --- | --- | --- | --- |"]
        for s in sensors:
            lines.append(f"| `{s.name}` | {s.minimum_interval_seconds} s | {s.default_status.value.lower()} | "
                         f"{cell(first_paragraph(s.description))} |")
        resources = sorted(repo.get_top_level_resources())
        lines += ["", "## Resources", "", ", ".join(f"`{r}`" for r in resources), ""]
    return "\n".join(lines)

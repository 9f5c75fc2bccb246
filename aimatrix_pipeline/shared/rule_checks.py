"""One Dagster asset check per metric rule, attached to the asset that holds the metric.

Why asset checks: they run right after the asset materializes (in the same run), their results
are stored with the asset (and shown in the UI next to it), and the alert sensor reads them back
through the per-check execution history. Checks are non-blocking: an alert must never stop the
data pipeline. Severity maps low/medium -> WARN, high/critical -> ERROR; either way the sensor
alerts (a WARN check failure does not fail the run, which is why run-failure sensors miss it).

Two shapes, one evaluation (`evaluate_rule`):
- `AssetRuleChecks`: the rules of an asset the automation sensor materializes (the analytics
  assets) become that asset's OWN check specs, evaluated at the end of its step. An asset cannot be
  materialized without its own specs, so the rule runs whatever launched the run: a schedule's job,
  `derive_analytics_when_raw_data_lands`, a backfill, the UI or the CLI. (As separate check
  definitions they were left out of automation runs: Dagster puts only the checks it was asked
  for into such a run, and it is asked for the assets' own specs, so they showed "Not Evaluated".)
- `build_rule_checks`: separate `@asset_check` definitions for every other asset (the raw extracts,
  materialized only by jobs that select their checks); tests/alerts/test_check_coverage.py fails
  if any check ends up outside a run that materializes its asset.

A check that cannot compute its metric (missing table or column, warehouse not created yet)
reports `passed=False` with WARN severity and `aimatrix/could_not_evaluate: true` in its metadata
instead of raising: the analytics run stays green, and the sensor raises a separate "could not
evaluate" alert that never resolves the data alert (docs/alerting-guarantees.md, 7). No data
(NULL) passes, with `no_data: true`, so an empty project never pages.
"""


import contextlib
import math
from collections.abc import Iterable, Iterator
from typing import Any

import dagster as dg
import duckdb
from dagster import AssetCheckExecutionContext

from aimatrix_pipeline.resources.warehouse import WarehouseResource
from aimatrix_pipeline.shared.rule_metrics import AGREED_ASSET_KEYS, METRICS
from aimatrix_pipeline.shared.rules import AlertRule, RuleSet
from aimatrix_pipeline.sql_files import load_sql

# Metadata flag of a result that could not compute its metric (read back by alerts/scan.py).
CNE_METADATA_KEY = "aimatrix/could_not_evaluate"
# Assets whose rules are their own check specs (`AssetRuleChecks`): the analytics assets, which
# the automation sensor materializes. Every other asset gets separate checks (`build_rule_checks`).
OWN_SPEC_KEY_PREFIXES = ("analytics",)
FLEET_FRESHNESS_CHECK = "all_projects_extracted_recently"
# Step priority of a separate rule check. Runs execute their steps in process, one at a time, the
# ready step with the highest `dagster/priority` first (ties in plan order): at the default 0 a
# rule check on raw/database_stats waited for every other snapshot of the statistics run, tens of
# seconds on a loaded machine. Ahead of them it runs as soon as its own asset has landed, and the
# alert sensor sees its result that much earlier. A check is one small DuckDB query.
RULE_CHECK_PRIORITY = "10"
FRESHNESS_RULE_ID = "extraction_stale"

SEVERITY_TO_CHECK = {
    "low": dg.AssetCheckSeverity.WARN,
    "medium": dg.AssetCheckSeverity.WARN,
    "high": dg.AssetCheckSeverity.ERROR,
    "critical": dg.AssetCheckSeverity.ERROR,
}


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        return None if math.isnan(v) else v
    try:
        return float(v)  # Decimal
    except (TypeError, ValueError):
        return str(v)


def evaluate_rule(rule: AlertRule, warehouse: WarehouseResource, project: str,
                  conn: duckdb.DuckDBPyConnection | None = None) -> dg.AssetCheckResult:
    """Compute the rule's metric for `project` inside DuckDB and compare it with the threshold
    (on `conn` when given: a batch's projects share one reader)."""
    metric = METRICS[rule.metric]
    base = {"project": project, "metric": rule.metric, "operator": rule.operator,
            "threshold": float(rule.threshold), "aimatrix/rule_id": rule.id,
            "aimatrix/severity": rule.severity}
    try:
        with (contextlib.nullcontext(conn) if conn is not None else warehouse.reader()) as reader:
            cur = reader.execute(load_sql(metric.sql_file), {"project": project})
            columns = [d[0] for d in cur.description]
            row = cur.fetchone()
    except (duckdb.Error, FileNotFoundError) as exc:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=f"could not evaluate {rule.metric}: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
            metadata={**base, CNE_METADATA_KEY: True, "error": str(exc).splitlines()[0][:300]},
        )
    values = {c: _jsonable(v) for c, v in zip(columns, row)} if row else {}
    value = values.get("value")
    if value is None:
        return dg.AssetCheckResult(passed=True, metadata={**base, **{k: v for k, v in values.items()
                                                                     if v is not None}, "no_data": True},
                                   description=f"no data for {rule.metric}")
    breached = rule.breached(float(value))
    return dg.AssetCheckResult(
        passed=not breached,
        severity=SEVERITY_TO_CHECK[rule.severity],
        description=rule.format_message({**base, **values}) if breached else None,
        metadata={**base, **{k: v for k, v in values.items() if v is not None}},
    )


def _description(rule: AlertRule) -> str:
    """The check's description in the UI, without the rule's threshold or severity.

    The code server builds it once when the code location loads, while every run loads the rules
    file afresh: a threshold written here would go stale after an edit (the UI saying "> 5"
    while runs judge "> 10"). The threshold each evaluation used is in its metadata.
    """
    metric = METRICS[rule.metric]
    return (f"{rule.title}: alerts when {metric.description} ({metric.unit}) is {rule.operator} the "
            f"threshold of rule {rule.id} in the alert rules file, as each run reads it; every "
            f"evaluation records the threshold and value it judged in its metadata.")


def _metadata(rule: AlertRule) -> dict:
    return {"aimatrix/rule_id": rule.id, "aimatrix/metric": rule.metric,
            "aimatrix/sql_file": METRICS[rule.metric].sql_file}


def _rules_on(rules: RuleSet, asset_key: dg.AssetKey | None = None) -> list[AlertRule]:
    """Metric rules whose target asset is in the agreed key list (optionally: this asset)."""
    return [r for r in rules.rules
            if r.metric and METRICS[r.metric].asset_key_str in AGREED_ASSET_KEYS
            and (asset_key is None or METRICS[r.metric].key == asset_key)]


def carries_own_rule_checks(asset_key: dg.AssetKey) -> bool:
    """True when the asset's rules are its own check specs (so no separate check is built)."""
    return asset_key.path[0] in OWN_SPEC_KEY_PREFIXES


class AssetRuleChecks:
    """The rule checks one asset carries as its own (non-blocking) check specs.

    The asset declares `specs` and returns `evaluate(...)`'s results with its materialization. A
    rule that cannot be evaluated, for any reason, reports "could not evaluate" instead of
    raising, so the asset's materialization never depends on its alert rules.
    """

    def __init__(self, rules: RuleSet, asset_key: dg.AssetKey, partitions_def: dg.PartitionsDefinition | None):
        if not carries_own_rule_checks(asset_key):
            raise ValueError(f"{asset_key.to_user_string()}: its rules are separate checks "
                             f"(build_rule_checks); own specs are for {OWN_SPEC_KEY_PREFIXES} assets")
        self.asset_key = asset_key
        self.partitions_def = partitions_def
        self.rules = _rules_on(rules, asset_key)

    @property
    def specs(self) -> list[dg.AssetCheckSpec]:
        # partitioned like the asset, so each evaluation records its project partition
        return [dg.AssetCheckSpec(r.id, asset=self.asset_key, description=_description(r), blocking=False,
                                  metadata=_metadata(r), partitions_def=self.partitions_def)
                for r in self.rules]

    def evaluate(self, warehouse: WarehouseResource, project: str) -> list[dg.AssetCheckResult]:
        results = []
        for rule in self.rules:
            try:
                result = evaluate_rule(rule, warehouse, project)
            except Exception as exc:  # noqa: BLE001 - a rule must never fail its asset
                msg = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                result = dg.AssetCheckResult(
                    passed=False, severity=dg.AssetCheckSeverity.WARN,
                    description=f"could not evaluate {rule.metric}: {msg}",
                    metadata={"project": project, "metric": rule.metric, "aimatrix/rule_id": rule.id,
                              "aimatrix/severity": rule.severity, CNE_METADATA_KEY: True, "error": msg})
            # an asset returning several checks' results names each one
            results.append(dg.AssetCheckResult(
                asset_key=self.asset_key, check_name=rule.id, passed=result.passed, severity=result.severity,
                description=result.description, metadata=result.metadata))
        return results


# The rules of the separate checks, by the asset they judge: a batch step whose projects partly
# failed evaluates them itself for its healthy projects (`separate_rule_evaluations`), because
# Dagster does not run a check step after its asset's step failed.
_SEPARATE_RULES: dict[dg.AssetKey, dict[str, AlertRule]] = {}


def _partition_evaluation(asset_key: dg.AssetKey, name: str, result: dg.AssetCheckResult, project: str):
    
    return dg.AssetCheckEvaluation(asset_key=asset_key, check_name=name, passed=result.passed,
                                metadata=result.metadata, severity=result.severity,
                                description=result.description, blocking=False, partition=project)


def build_rule_check(rule: AlertRule, partitions_def: dg.PartitionsDefinition | None) -> dg.AssetChecksDefinition:
    metric = METRICS[rule.metric]
    _SEPARATE_RULES.setdefault(metric.key, {})[rule.id] = rule

    @dg.asset_check(
        asset=metric.key,
        name=rule.id,
        description=_description(rule),
        blocking=False,
        partitions_def=partitions_def,
        metadata=_metadata(rule),
        op_tags={"dagster/priority": RULE_CHECK_PRIORITY},
    )
    def _check(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
        projects = list(context.partition_keys) if partitions_def is not None else []
        if len(projects) <= 1:
            yield evaluate_rule(rule, warehouse, projects[0] if projects else "default")
            return
        # a batch run (a range of project partitions): one evaluation per project, each recorded
        # against its own partition, so the alert sensor judges every project on its own
        for project, result in evaluate_for(rule, warehouse, projects):
            yield _partition_evaluation(metric.key, rule.id, result, project)
        yield dg.Output(None)

    return _check


def evaluate_for(rule: AlertRule, warehouse: WarehouseResource, projects: list[str]):
    """(project, result) for each project, through one reader: opening the file per project
    cost a batch's check step more than the rule's query. A reader that cannot open leaves each
    project to open its own (and report its own error)."""
    done: set[str] = set()
    try:
        with warehouse.reader() as conn:
            for project in projects:
                result = evaluate_rule(rule, warehouse, project, conn)
                done.add(project)
                yield project, result
    except (duckdb.Error, FileNotFoundError):
        pass
    for project in projects:
        if project not in done:
            yield project, evaluate_rule(rule, warehouse, project)


def separate_rule_evaluations(context, warehouse: WarehouseResource, project: str) -> Iterator:
    """The evaluations of the separate rule checks on the step's asset that this run planned, for
    one project (see `_SEPARATE_RULES`)."""
    asset_key = context.assets_def.key
    planned = _planned_check_keys(context)
    for name, rule in sorted(_SEPARATE_RULES.get(asset_key, {}).items()):
        if dg.AssetCheckKey(asset_key, name) in planned:
            yield _partition_evaluation(asset_key, name, evaluate_rule(rule, warehouse, project), project)


def _planned_check_keys(context) -> set:
    selection = context.run.asset_check_selection
    if selection is not None:
        return set(selection)
    return set(context.job_def.asset_layer.asset_graph.asset_check_keys)


def build_rule_checks(rules: RuleSet, partitions_def: dg.PartitionsDefinition | None,
                      exclude_assets: Iterable[dg.AssetKey] = ()) -> list:
    """Separate checks for every metric rule whose target asset is in the agreed key list, except
    on `exclude_assets` (assets that carry their rules as their own specs: `AssetRuleChecks`)."""
    excluded = set(exclude_assets)
    return [build_rule_check(r, partitions_def) for r in _rules_on(rules) if METRICS[r.metric].key not in excluded]


def own_spec_asset_keys() -> list[dg.AssetKey]:
    """The metric registry's target assets that carry their rules as their own specs."""
    return sorted({m.key for m in METRICS.values() if carries_own_rule_checks(m.key)}, key=str)


def build_fleet_freshness_check(rule: AlertRule, project_names: list[str]) -> dg.AssetChecksDefinition:
    """Extraction freshness for every project, runnable on a schedule without a materialization.

    The per-project `extraction_stale` check runs after each extraction, so it cannot notice that
    extraction stopped altogether; this one is executed by `alert_freshness_schedule` and fails
    when any configured project's newest extraction is older than the rule's threshold (or
    missing), listing the stale projects in its metadata.
    """
    metric = METRICS[rule.metric]

    @dg.asset_check(
        asset=metric.key,
        name=FLEET_FRESHNESS_CHECK,
        # no threshold here: the UI's description is built once, the rules file is read per run
        description=f"Every configured project was extracted within the threshold (minutes) of rule "
        f"{rule.id} in the alert rules file; run by alert_freshness_schedule.",
        blocking=False,
        metadata={"aimatrix/rule_id": rule.id},
    )
    def _check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        base = {"threshold": float(rule.threshold), "metric": rule.metric, "project": "all"}
        try:
            with warehouse.reader() as conn:
                rows = conn.execute(load_sql("warehouse/alerts/extract_age_by_project.sql"),
                                    {"projects": list(project_names)}).fetchall()
        except (duckdb.Error, FileNotFoundError) as exc:
            msg = str(exc).splitlines()[0][:300]
            return dg.AssetCheckResult(passed=False, severity=dg.AssetCheckSeverity.WARN,
                                       description=f"could not evaluate extraction freshness: {msg}",
                                       metadata={**base, CNE_METADATA_KEY: True, "error": msg})
        stale = [(p, age) for p, age, _ in rows if age is None or rule.breached(float(age))]
        ages = {p: (None if age is None else round(float(age), 1)) for p, age, _ in rows}
        return dg.AssetCheckResult(
            passed=not stale,
            severity=SEVERITY_TO_CHECK[rule.severity],
            description=(f"{len(stale)} project(s) not extracted within {rule.threshold:g} min: "
                         + ", ".join(p for p, _ in stale[:20])) if stale else None,
            metadata={**base, "stale_projects": ", ".join(p for p, _ in stale),
                      "stale_count": len(stale), "ages_minutes": dg.MetadataValue.json(ages),
                      "value": max((a for a in ages.values() if a is not None), default=0.0)},
        )

    return _check

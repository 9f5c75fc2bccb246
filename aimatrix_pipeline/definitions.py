"""The code location: assembles each domain's Definitions and binds the shared resources.

Nothing else lives here. Each domain package (`extract`, `analytics`, `cost`, `alerts`) exposes a
`defs` object from its own `definitions` module; adding a domain means adding it to DOMAINS.
`build_definitions` also assembles the two code locations of a split deployment
(aimatrix_pipeline.locations, deploy/), so every location gets the same resources and executor.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import dagster as dg

from aimatrix_pipeline.terminal import quiet_library_warnings

quiet_library_warnings()  # before the domains build their definitions (code servers, run workers)

from aimatrix_pipeline.resources import shared_resources  # noqa: E402
from aimatrix_pipeline.shared.selections import PROJECT_ANALYTICS  # noqa: E402

DOMAINS = (
    "aimatrix_pipeline.extract.definitions",
    "aimatrix_pipeline.analytics.definitions",
    "aimatrix_pipeline.cost.definitions",
    "aimatrix_pipeline.alerts.definitions",
    "aimatrix_pipeline.appsignals.definitions",
    "aimatrix_pipeline.fleet.definitions",
    "aimatrix_pipeline.dashboard.definitions",
)


def _asset_keys(assets) -> set[dg.AssetKey]:
    keys: set[dg.AssetKey] = set()
    for a in assets or ():
        keys.update(getattr(a, "keys", None) or {a.key})
    return keys


def _job_targets(job, graph) -> set[dg.AssetKey]:
    """Assets an asset job materializes or checks (empty for op jobs)."""
    selection = getattr(job, "selection", None)
    if selection is None:
        return set()
    return set(selection.resolve(graph)) | {k.asset_key for k in selection.resolve_checks(graph)}


def build_definitions(domains: Sequence[str] = DOMAINS) -> dg.Definitions:
    """The code location made of `domains` (all by default: the single-machine location).

    Every location gets the shared resources and the in-process executor. Every asset check goes
    to the location that holds its asset, whichever domain defines it (the alerts domain defines
    rule checks on extract and analytics assets): a check in another location than its asset is
    never part of the runs that materialize the asset. An asset job (and its schedules) goes where
    the assets and checks it selects live; an extract job, which derives its analytics in the same
    run on one location, keeps only its raw assets in a split deployment (the analytics location's
    automation sensor derives them after it, as it does after a backfill).
    """
    unknown = [d for d in domains if d not in DOMAINS]
    if unknown:
        raise ValueError(f"unknown domains {unknown}; known: {list(DOMAINS)}")
    loaded = {name: importlib.import_module(name).defs for name in DOMAINS}
    own_assets = _asset_keys([a for name in domains for a in (loaded[name].assets or ())])
    everything = dg.Definitions.merge(*loaded.values(), dg.Definitions(resources=shared_resources()))
    graph = everything.resolve_asset_graph() if len(domains) < len(DOMAINS) else None

    def here(name: str, targets: set[dg.AssetKey], what: str) -> bool:
        if graph is None or not targets:  # the whole location, or not tied to assets: its domain's
            return name in domains
        if targets <= own_assets:
            return True
        if targets & own_assets:
            raise ValueError(f"{name}: {what} spans assets of two code locations: {sorted(targets)}")
        return False

    def placed_job(name: str, job):
        """The job if it belongs here; an extract job narrowed to its raw assets when the analytics
        it derives in the run live in the other location (their automation sensor follows it)."""
        if graph is None:
            return job if name in domains else None
        targets = _job_targets(job, graph)
        derived = set(PROJECT_ANALYTICS.resolve(graph))
        extracted = targets - derived
        if extracted and targets & derived and not targets <= own_assets:
            if not here(name, extracted, f"job {job.name}"):
                return None
            return dg.define_asset_job(
                job.name, selection=dg.AssetSelection.keys(*sorted(extracted, key=str)),
                partitions_def=job.partitions_def, executor_def=job.executor_def, tags=job.tags,
                run_tags=job.run_tags, description=job.description)
        return job if here(name, targets, f"job {job.name}") else None

    checks, jobs, schedules = [], [], []
    for name, domain in loaded.items():
        checks += [c for c in domain.asset_checks or ()
                   if here(name, {k.asset_key for k in c.check_keys}, f"check {sorted(c.check_keys)}")]
        placed = [p for p in (placed_job(name, j) for j in domain.jobs or ()) if p is not None]
        jobs += placed
        # a schedule follows its job when the domain defines that job, else stays with its domain
        domain_jobs, placed_names = {j.name for j in domain.jobs or ()}, {j.name for j in placed}
        by_name = {j.name: j for j in placed}
        schedules += [s if by_name.get(s.job_name, s.job) is s.job else s.with_updated_job(by_name[s.job_name])
                      for s in domain.schedules or ()
                      if (s.job_name in placed_names if s.job_name in domain_jobs else name in domains)]
    parts = [
        dg.Definitions(assets=loaded[name].assets, sensors=loaded[name].sensors,
                       resources=loaded[name].resources, loggers=loaded[name].loggers)
        for name in domains
    ]
    shared = dg.Definitions(
        asset_checks=checks,
        jobs=jobs,
        schedules=schedules,
        resources=shared_resources(),
        # Steps run inside the run's process: each step here is small (a query and a DuckDB
        # write), and the default multiprocess executor spent ~1 s per step re-loading the code
        # location in a fresh process. Warehouse writers take turns anyway (one pool slot).
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(*parts, shared)


defs = build_definitions()

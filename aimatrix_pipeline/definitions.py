"""The code location: assembles each domain's Definitions and binds the shared resources.

Nothing else lives here. Each domain package (`extract`, `analytics`, `cost`, `alerts`) exposes a
`defs` object from its own `definitions` module; adding a domain means adding it to DOMAINS.
"""

from __future__ import annotations

import importlib

import dagster as dg

from aimatrix_pipeline.resources import shared_resources

DOMAINS = (
    "aimatrix_pipeline.extract.definitions",
    "aimatrix_pipeline.analytics.definitions",
    "aimatrix_pipeline.cost.definitions",
    "aimatrix_pipeline.alerts.definitions",
    "aimatrix_pipeline.appsignals.definitions",
    "aimatrix_pipeline.fleet.definitions",
    "aimatrix_pipeline.dashboard.definitions",
)


def build_definitions() -> dg.Definitions:
    domain_defs = [importlib.import_module(name).defs for name in DOMAINS]
    shared = dg.Definitions(
        resources=shared_resources(),
        # Steps run inside the run's process: each step here is small (a query and a DuckDB
        # write), and the default multiprocess executor spent ~1 s per step re-loading the code
        # location in a fresh process. Warehouse writers take turns anyway (one pool slot).
        executor=dg.in_process_executor,
    )
    return dg.Definitions.merge(*domain_defs, shared)


defs = build_definitions()

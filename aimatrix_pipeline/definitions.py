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
    domain_defs = []
    for module_name in DOMAINS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # domain not built yet
                continue
            raise
        domain_defs.append(module.defs)
    return dg.Definitions.merge(*domain_defs, dg.Definitions(resources=shared_resources()))


defs = build_definitions()

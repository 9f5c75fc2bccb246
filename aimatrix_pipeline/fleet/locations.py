"""Two code locations for a deployment that outgrows one machine (deploy/*/workspace.yaml).

`extract_defs`: the extract domain and retention (talks to the monitored databases; its code
server and run containers need the source DSNs). `derived_defs`: every other domain (analytics,
cost, alerts, application signals, ...), which only reads and writes the warehouse and calls the
Supabase API. Each location can be deployed, scaled and upgraded on its own; assets of one that
depend on assets of the other resolve across locations in the instance's asset graph.

The single-machine code location (`aimatrix_pipeline.definitions:defs`) is the union of both.
"""

from __future__ import annotations

import importlib

import dagster as dg

from aimatrix_pipeline.definitions import DOMAINS
from aimatrix_pipeline.resources import shared_resources

EXTRACT_DOMAINS = ("aimatrix_pipeline.extract.definitions", "aimatrix_pipeline.fleet.definitions")
DERIVED_DOMAINS = tuple(d for d in DOMAINS if d not in EXTRACT_DOMAINS)


def build(domains: tuple[str, ...]) -> dg.Definitions:
    loaded = []
    for name in domains:
        try:
            loaded.append(importlib.import_module(name).defs)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return dg.Definitions.merge(*loaded, dg.Definitions(resources=shared_resources()))


extract_defs = build(EXTRACT_DOMAINS)
derived_defs = build(DERIVED_DOMAINS)

"""Two code locations for a deployment that outgrows one machine (deploy/*/workspace.yaml).

`extract_defs`: the extract domain and retention (talks to the monitored databases; its code
server and run containers need the source DSNs). `derived_defs`: every other domain (analytics,
cost, alerts, application signals, ...), which only reads and writes the warehouse and calls the
Supabase API. Each location can be deployed, scaled and upgraded on its own; assets of one that
depend on assets of the other resolve across locations in the instance's asset graph.

The single-machine code location (`aimatrix_pipeline.definitions:defs`) is the union of both;
all three are assembled by `aimatrix_pipeline.definitions.build_definitions`.
"""

from __future__ import annotations

from aimatrix_pipeline.definitions import DOMAINS, build_definitions

EXTRACT_DOMAINS = ("aimatrix_pipeline.extract.definitions", "aimatrix_pipeline.fleet.definitions")
DERIVED_DOMAINS = tuple(d for d in DOMAINS if d not in EXTRACT_DOMAINS)

# The same assembly as the single location: shared resources, in-process executor, and each asset
# check in the location of its asset (so rule checks on raw/* assets run in the extract location).
extract_defs = build_definitions(EXTRACT_DOMAINS)
derived_defs = build_definitions(DERIVED_DOMAINS)

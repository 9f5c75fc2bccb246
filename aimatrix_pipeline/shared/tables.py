"""Which asset owns which warehouse table.

An asset's `dagster/table_name` is its main table; `aimatrix/writes` lists every table it writes
(the main one first), so an asset that writes two tables declares both. Each table of the DDL has
exactly one owning asset, except the shared state below, which several writers keep one row set
each in (tests/test_table_ownership.py). Maintenance that removes rows from another asset's table
(retention) owns none and reports what it did as observations of the owning assets.
"""

from __future__ import annotations

import dagster as dg

WRITES_KEY = "aimatrix/writes"

# table -> why it has no single owning asset
SHARED_STATE: dict[str, str] = {
    "raw.extract_state": "high-water marks: every incremental loader keeps its own (project, source) rows",
    "raw.quarantine": "rows refused by a loader: every loader replaces its own (project, source) rows",
    "raw.snapshot_runs": "one row per snapshot run, written by every snapshot asset for itself",
    "ops.applied_recommendations": "audit log of `report recommendations --apply` (a command, not an asset)",
    "raw.schema_version": "which DDL version the warehouse holds: written by whichever writer applies the DDL",
}


def writes(main: str, *also: str) -> dict:
    """Asset metadata declaring `main` (shown by Dagster as the asset's table) and `also`."""
    return {"dagster/table_name": main, WRITES_KEY: dg.MetadataValue.json([main, *also])}


def declared_tables(metadata: dict) -> list[str]:
    """The tables an asset's definition metadata declares it writes."""
    if WRITES_KEY in metadata:
        value = metadata[WRITES_KEY]
        return list(getattr(value, "value", value) or [])
    main = metadata.get("dagster/table_name")
    return [getattr(main, "value", main)] if main else []


def table_owners(assets_defs) -> dict[str, list[dg.AssetKey]]:
    """table -> the asset keys that declare writing it."""
    owners: dict[str, list[dg.AssetKey]] = {}
    for ad in assets_defs:
        for key in ad.keys:
            for table in declared_tables(dict(ad.specs_by_key[key].metadata or {})):
                owners.setdefault(table, []).append(key)
    return owners

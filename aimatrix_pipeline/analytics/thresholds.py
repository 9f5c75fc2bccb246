"""Every threshold the analytics derivations use, with its default, in one place.

Why a module and not constants in SQL: the rules come from different anchors (PgHero, Supabase's
advisors and guidance, common application logging conventions) that disagree, so a team must be
able to tune them without editing SQL. The SQL files take them as named parameters (`$slow_query_ms`, ...), never as literals.

Override order (last wins): the defaults below, a YAML mapping in the file named by
`AIMATRIX_ANALYTICS_THRESHOLDS` (keys = field names), then one environment variable per field,
`AIMATRIX_ANALYTICS_<FIELD_NAME_UPPER>` (e.g. `AIMATRIX_ANALYTICS_SLOW_QUERY_MS=2000`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping

from aimatrix_pipeline.config_checks import read_yaml, require_finite, require_int, shown
from aimatrix_pipeline.settings import ConfigError

ENV_FILE = "AIMATRIX_ANALYTICS_THRESHOLDS"
ENV_PREFIX = "AIMATRIX_ANALYTICS_"


@dataclass(frozen=True)
class Thresholds:
    # --- query statistics -------------------------------------------------------------------
    slow_query_ms: float = 1000.0
    """A call (app log) or a statement's mean (pg_stat_statements) above this is slow (seed: 1 s)."""
    summary_min_calls: int = 5
    """app_log groups are kept when calls > this ... (seed: COUNT(*) > 5)"""
    summary_min_avg_ms: float = 500.0
    """... or when their mean is above this (seed: AVG > 500 ms). pg_stat_statements keeps all."""
    summary_window_hours: int = 24 * 30
    """Hour buckets older than this are not summarised (30 days by default)."""
    slow_query_min_calls: int = 1
    """A slow_query finding needs at least this many calls in the window."""
    regression_mean_growth: float = 1.5
    """Week-over-week: mean time this many times last week's is a regression."""
    regression_total_growth: float = 2.0
    """Week-over-week: total time this many times last week's is a regression."""
    regression_min_calls: int = 5
    """Both weeks need at least this many calls before growth is judged."""
    # --- indexes and tables -----------------------------------------------------------------
    unused_index_min_bytes: int = 10 * 1024 * 1024
    """Unused indexes smaller than this are not worth a finding (PgHero: 10 MB)."""
    unused_index_warn_days: float = 7.0
    """Observation windows shorter than this make an unused-index finding `info`, not `warning`."""
    seq_scan_min_rows: int = 1000
    """Seq-scan-heavy needs a table of at least this many rows."""
    seq_scan_min_scans: int = 50
    """... at least this many sequential scans ..."""
    seq_scan_min_ratio: float = 0.5
    """... and seq_scan / (seq_scan + idx_scan) at least this ..."""
    seq_scan_window_hours: float = 24 * 7
    """... counting the scans between the snapshots of this window (not lifetime counters)."""
    vacuum_never_min_rows: int = 1000
    """Never vacuumed/analyzed is a finding only for tables holding at least this many rows."""
    autovacuum_vacuum_threshold: int = 50
    """Fallbacks when raw.server_settings lacks the setting (PostgreSQL defaults)."""
    autovacuum_vacuum_scale_factor: float = 0.2
    autovacuum_analyze_threshold: int = 50
    autovacuum_analyze_scale_factor: float = 0.1
    # --- database ---------------------------------------------------------------------------
    cache_hit_ratio_min: float = 0.94
    """Heap or index hit ratio below this is low (Supabase report: 0.94; PgHero wants 0.99)."""
    cache_min_blocks: int = 1000
    """Ratios over fewer block accesses than this are noise and not judged."""
    connection_utilisation_max: float = 0.8
    """Connections in use / usable connections at or above this is saturation."""
    long_running_query_seconds: float = 60.0
    """A non-idle query running longer than this is long-running (PgHero: 60 s)."""
    sequence_usage_max: float = 0.9
    """A sequence past this fraction of its maximum (or of the column type it feeds) is near overflow."""
    bloat_min_bytes: int = 100 * 1024 * 1024
    """Table/index bloat is a finding from this many estimated wasted bytes (PgHero: 100 MB) ..."""
    bloat_min_ratio: float = 1.5
    """... when the relation has at least this many times the pages its rows need."""
    replication_slot_max_retained_bytes: int = 1024 * 1024 * 1024
    """An active replication slot holding back more WAL than this is a finding (1 GiB)."""
    # --- pgvector ---------------------------------------------------------------------------
    vector_missing_index_min_rows: int = 10000
    """A vector column on a table this large without an ANN index is a finding."""
    ivfflat_to_hnsw_min_rows: int = 100000
    """An IVFFlat index on a table this large should move to HNSW (Supabase recommends HNSW)."""
    ivfflat_lists_factor: float = 4.0
    """lists more than this factor away from rows/1000 (<= 1M rows) or sqrt(rows) is a finding."""
    ivfflat_lists_min_rows: int = 1000
    """Below this many rows the lists guidance is not judged, except for lists > rows / 10."""
    vector_compute_headroom: float = 1.0
    """Flag vector counts above guidance x this (e.g. 0.8 to warn at 80 % of Supabase's figure)."""
    # --- app logs ---------------------------------------------------------------------------
    embedding_cost_per_token_usd: float = 0.0001
    """Estimated cost per embedding token (set it to your model's price)."""


# Fractions in [0, 1]; factors must be positive; everything else is a non-negative count or size.
_FRACTIONS = {"cache_hit_ratio_min", "connection_utilisation_max", "sequence_usage_max", "seq_scan_min_ratio",
              "autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor"}
_FACTORS = {"regression_mean_growth", "regression_total_growth", "ivfflat_lists_factor", "vector_compute_headroom"}
MAX_INT = 2**53  # SQL parameters: exact in a double and far inside BIGINT
MAX_FLOAT = 1e15


def _coerce(field: dataclasses.Field, value: object, where: str):
    """A finite number of the field's type in its plausible range (NaN would silence a finding)."""
    kind = field.type if isinstance(field.type, type) else {"int": int, "float": float}[field.type]
    if kind is int:
        return require_int(value, where, 0, MAX_INT)
    if field.name in _FRACTIONS:
        return require_finite(value, where, 0.0, 1.0)
    if field.name in _FACTORS:
        return require_finite(value, where, 0.0, MAX_FLOAT, lo_exclusive=True)
    return require_finite(value, where, 0.0, MAX_FLOAT)


def load_thresholds(env: Mapping[str, str] | None = None, **overrides) -> Thresholds:
    """Defaults, then the YAML file, then environment variables, then keyword overrides."""
    env = os.environ if env is None else env
    by_name = {f.name: f for f in fields(Thresholds)}
    values: dict[str, object] = {}
    path = env.get(ENV_FILE)
    if path:
        data = read_yaml(Path(path), f"{ENV_FILE}={path}: cannot read (the file does not exist)") or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of threshold names to numbers")
        for key, value in data.items():
            if key not in by_name:
                raise ConfigError(f"{path}: unknown threshold {shown(key)}; known: {', '.join(by_name)}"[:600])
            values[key] = _coerce(by_name[key], value, f"{path}: {key}")
    for name, field in by_name.items():
        raw = env.get(ENV_PREFIX + name.upper())
        if raw not in (None, ""):
            values[name] = _coerce(field, raw, f"environment variable {ENV_PREFIX + name.upper()}")
    for key, value in overrides.items():
        if key not in by_name:
            raise ConfigError(f"unknown threshold {shown(key)}")
        values[key] = _coerce(by_name[key], value, "override")
    return Thresholds(**values)


def as_params(thresholds: Thresholds) -> dict[str, object]:
    return dataclasses.asdict(thresholds)

"""Every threshold the analytics derivations use: their types, ranges and meanings.

Why a module and not constants in SQL: the rules come from different anchors (PgHero, Supabase's
advisors and guidance, common application logging conventions) that disagree, so a team must be
able to tune them without editing SQL. The SQL files take them as named parameters (`$slow_query_ms`, ...), never as literals.

The values live in one file, the shipped `thresholds.yaml` (it must name every threshold). Override
order (last wins): that file, a YAML mapping in the file named by `AIMATRIX_ANALYTICS_THRESHOLDS`
(only the names it lists), one environment variable per threshold,
`AIMATRIX_ANALYTICS_<NAME_UPPER>` (e.g. `AIMATRIX_ANALYTICS_SLOW_QUERY_MS=2000`), then keyword
overrides (run config, tests). The environment is read by `aimatrix_pipeline.settings`; this
module parses what the settings carry.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Mapping

from aimatrix_pipeline.config_checks import read_yaml, require_finite, require_int, shown
from aimatrix_pipeline.settings import (
    THRESHOLD_ENV_PREFIX,
    THRESHOLDS_FILE_ENV,
    ConfigError,
    Settings,
    current_settings,
    load_settings,
)

ENV_FILE = THRESHOLDS_FILE_ENV
ENV_PREFIX = THRESHOLD_ENV_PREFIX
SHIPPED_FILE = "thresholds.yaml"


def _about(text: str):
    """A threshold field: its meaning (docs/reference/settings.md); the value is in thresholds.yaml."""
    return field(metadata={"doc": text})


@dataclass(frozen=True)
class Thresholds:
    # --- query statistics --------------------------------------------------------------------------
    slow_query_ms: float = _about(
        "A call (app log) or a statement's mean (pg_stat_statements) above this is slow.")
    summary_min_calls: int = _about('App-log groups are kept in the summary when they have more calls than this ...')
    summary_min_avg_ms: float = _about(
        '... or when their mean is above this (ms). pg_stat_statements groups are all kept.')
    summary_window_hours: int = _about(
        "Hour buckets older than this are not summarised.")
    slow_query_min_calls: int = _about('A slow_query finding needs at least this many calls in the window.')
    regression_mean_growth: float = _about(
        "Week-over-week: mean time this many times last week's is a regression.")
    regression_total_growth: float = _about(
        "Week-over-week: total time this many times last week's is a regression.")
    regression_min_calls: int = _about('Both weeks need at least this many calls before growth is judged.')
    impact_window_hours: float = _about(
        'Hours of deltas compared before and after a plan change (plan_changes) or a new index (index_impact).')
    # --- indexes and tables ------------------------------------------------------------------------
    unused_index_min_bytes: int = _about(
        'Unused indexes smaller than this are not worth a finding (PgHero: 10 MB).')
    unused_index_warn_days: float = _about(
        'Observation windows shorter than this make an unused-index finding `info`, not `warning`.')
    seq_scan_min_rows: int = _about('Seq-scan-heavy needs a table of at least this many rows.')
    seq_scan_min_scans: int = _about('... at least this many sequential scans ...')
    seq_scan_min_ratio: float = _about('... and seq_scan / (seq_scan + idx_scan) at least this ...')
    seq_scan_window_hours: float = _about(
        '... counting the scans between the snapshots of this window (not lifetime counters).')
    vacuum_never_min_rows: int = _about(
        'Never vacuumed/analyzed is a finding only for tables holding at least this many rows.')
    autovacuum_vacuum_threshold: int = _about(
        'Fallback when raw.server_settings lacks autovacuum_vacuum_threshold (PostgreSQL default).')
    autovacuum_vacuum_scale_factor: float = _about(
        'Fallback when raw.server_settings lacks autovacuum_vacuum_scale_factor (PostgreSQL default).')
    autovacuum_analyze_threshold: int = _about(
        'Fallback when raw.server_settings lacks autovacuum_analyze_threshold (PostgreSQL default).')
    autovacuum_analyze_scale_factor: float = _about(
        'Fallback when raw.server_settings lacks autovacuum_analyze_scale_factor (PostgreSQL default).')
    # --- database ----------------------------------------------------------------------------------
    cache_hit_ratio_min: float = _about(
        'Heap or index hit ratio below this is low (Supabase report: 0.94; PgHero wants 0.99).')
    cache_min_blocks: int = _about('Ratios over fewer block accesses than this are noise and not judged.')
    connection_utilisation_max: float = _about(
        'Connections in use / usable connections at or above this is saturation.')
    long_running_query_seconds: float = _about(
        'A non-idle query running longer than this is long-running (PgHero: 60 s).')
    sequence_usage_max: float = _about(
        'A sequence past this fraction of its maximum (or of the column type it feeds) is near overflow.')
    bloat_min_bytes: int = _about(
        'Table/index bloat is a finding from this many estimated wasted bytes (PgHero: 100 MB) ...')
    bloat_min_ratio: float = _about(
        '... when the relation has at least this many times the pages its rows need.')
    replication_slot_max_retained_bytes: int = _about(
        'An active replication slot holding back more WAL than this is a finding (1 GiB).')
    # --- pgvector ----------------------------------------------------------------------------------
    vector_missing_index_min_rows: int = _about(
        'A vector column on a table this large without an ANN index is a finding.')
    ivfflat_to_hnsw_min_rows: int = _about(
        'An IVFFlat index on a table this large should move to HNSW (Supabase recommends HNSW).')
    ivfflat_lists_factor: float = _about(
        'lists more than this factor away from rows/1000 (<= 1M rows) or sqrt(rows) is a finding.')
    ivfflat_lists_min_rows: int = _about(
        'Below this many rows the lists guidance is not judged, except for lists > rows / 10.')
    vector_compute_headroom: float = _about(
        "Flag vector counts above guidance x this (e.g. 0.8 to warn at 80 % of Supabase's figure).")
    # --- app logs ----------------------------------------------------------------------------------
    embedding_cost_per_token_usd: float = _about(
        "Estimated cost per embedding token, USD (set it to your model's price).")


# Fractions in [0, 1]; factors must be positive; everything else is a non-negative count or size.
_FRACTIONS = {"cache_hit_ratio_min", "connection_utilisation_max", "sequence_usage_max", "seq_scan_min_ratio",
              "autovacuum_vacuum_scale_factor", "autovacuum_analyze_scale_factor"}
_FACTORS = {"regression_mean_growth", "regression_total_growth", "ivfflat_lists_factor", "vector_compute_headroom"}
MAX_INT = 2**53  # SQL parameters: exact in a double and far inside BIGINT
MAX_FLOAT = 1e15


def _kind(f: dataclasses.Field) -> type:
    return f.type if isinstance(f.type, type) else {"int": int, "float": float}[f.type]


def _coerce(field: dataclasses.Field, value: object, where: str):
    """A finite number of the field's type in its plausible range (NaN would silence a finding)."""
    if _kind(field) is int:
        return require_int(value, where, 0, MAX_INT)
    if field.name in _FRACTIONS:
        return require_finite(value, where, 0.0, 1.0)
    if field.name in _FACTORS:
        return require_finite(value, where, 0.0, MAX_FLOAT, lo_exclusive=True)
    return require_finite(value, where, 0.0, MAX_FLOAT)


def shipped_file() -> Path:
    """The repository's thresholds.yaml: in the checkout, or inside the package of a wheel."""
    from aimatrix_pipeline.sql_files import shipped_path

    return shipped_path(SHIPPED_FILE)


def _read_file(path: Path, by_name: dict, missing: str) -> dict[str, object]:
    data = read_yaml(path, missing) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of threshold names to numbers")
    values = {}
    for key, value in data.items():
        if key not in by_name:
            raise ConfigError(f"{path}: unknown threshold {shown(key)}; known: {', '.join(by_name)}"[:600])
        values[key] = _coerce(by_name[key], value, f"{path}: {key}")
    return values


def range_text(f: dataclasses.Field) -> str:
    """The accepted range of a threshold, as docs/reference/settings.md shows it."""
    if _kind(f) is int:
        return "whole number, 0 to 2^53"
    if f.name in _FRACTIONS:
        return "0 to 1"
    if f.name in _FACTORS:
        return f"above 0, at most {MAX_FLOAT:g}"
    return f"0 to {MAX_FLOAT:g}"


def shipped_values() -> dict[str, object]:
    """The values of the shipped thresholds.yaml (every threshold must be there)."""
    by_name = {f.name: f for f in fields(Thresholds)}
    path = shipped_file()
    values = _read_file(path, by_name, f"{path} does not exist: the package is incomplete")
    missing = [n for n in by_name if n not in values]
    if missing:
        raise ConfigError(f"{path}: missing threshold(s) {', '.join(missing)}")
    return values


def thresholds_from_settings(settings: Settings, **overrides) -> Thresholds:
    """The shipped values, then the settings' thresholds file, then its environment overrides,
    then keyword overrides; every value checked for type and range."""
    by_name = {f.name: f for f in fields(Thresholds)}
    values = shipped_values()
    path = settings.thresholds_file
    if path:
        values.update(_read_file(Path(path), by_name, f"{ENV_FILE}={path}: cannot read (the file does not exist)"))
    for name, raw in sorted(settings.threshold_overrides.items()):
        variable = ENV_PREFIX + name.upper()
        if name not in by_name:
            raise ConfigError(f"environment variable {variable} names no threshold; known: "
                              f"{', '.join(by_name)}"[:600])
        values[name] = _coerce(by_name[name], raw, f"environment variable {variable}")
    for key, value in overrides.items():
        if key not in by_name:
            raise ConfigError(f"unknown threshold {shown(key)}")
        values[key] = _coerce(by_name[key], value, "override")
    return Thresholds(**values)


def load_thresholds(env: Mapping[str, str] | None = None, **overrides) -> Thresholds:
    """Thresholds of the settings built from `env` (default: the current settings' own)."""
    if env is None:
        settings = current_settings()
        return settings.thresholds if not overrides else thresholds_from_settings(settings, **overrides)
    return thresholds_from_settings(load_settings(env), **overrides)


def as_params(thresholds: Thresholds) -> dict[str, object]:
    return dataclasses.asdict(thresholds)

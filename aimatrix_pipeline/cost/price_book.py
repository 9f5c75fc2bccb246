"""The price book: Supabase prices, quotas and plan fees as dated data, not code.

Why data: prices change, negotiated (enterprise) rates differ per organization, and a backfill of
an old month must price it with the entries in force then. The default book lives in
`sql/seed/price_book.yaml`; `AIMATRIX_PRICE_BOOK_OVERRIDES` names an optional YAML file of the same
shape whose entries replace default entries with the same (line_item, plan, organization,
effective_from) key and add the rest. Each entry runs until the next entry of its key starts
(`effective_to`, computed here), so a price change is one new entry with a later date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from aimatrix_pipeline.config_checks import read_yaml, require_finite, require_str, shown
from aimatrix_pipeline.settings import PLANS, ConfigError
from aimatrix_pipeline.sql_files import SQL_DIR

DEFAULT_PRICE_BOOK = SQL_DIR / "seed" / "price_book.yaml"
OVERRIDES_ENV = "AIMATRIX_PRICE_BOOK_OVERRIDES"

ROUNDINGS = ("none", "packages_up")
BASES = ("cycle", "hour")
SCOPES = ("organization", "project", "none")
KINDS = ("usage", "plan_fee", "compute_credit")
# Plausible upper bounds: a price per unit, a package size or an included quota beyond these is a
# typo (or 1e23), and would price a month at nonsense instead of failing the load.
MAX_PRICE_USD = 1e6
MAX_QUANTITY = 1e15
_BOUNDS = {"price_usd": MAX_PRICE_USD, "per_quantity": MAX_QUANTITY, "included": MAX_QUANTITY}


@dataclass(frozen=True)
class PriceEntry:
    line_item: str
    plan: str
    organization: str
    effective_from: dt.date
    effective_to: dt.date | None
    unit: str | None
    price_usd: float
    per_quantity: float
    rounding: str
    included: float
    included_basis: str
    quota_scope: str
    kind: str
    source: str
    notes: str | None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.line_item, self.plan, self.organization)


def _number(raw: dict, field: str, default: float | None, where: str) -> float:
    value = raw.get(field, default)
    if value is None:
        raise ConfigError(f"{where}: missing required field '{field}'")
    return require_finite(value, f"{where}: '{field}'", 0, _BOUNDS[field])


def _text(raw: dict, field: str, where: str, default: str | None = None) -> str | None:
    value = raw.get(field, default)
    if value is None:
        return None
    return require_str(value, f"{where}: '{field}'", max_len=1000, numbers_ok=True)


def _choice(raw: dict, field: str, default: str, allowed: tuple[str, ...], where: str) -> str:
    value = require_str(raw.get(field, default), f"{where}: '{field}'", max_len=100)
    if value not in allowed:
        raise ConfigError(f"{where}: '{field}' must be one of {', '.join(allowed)}, got {shown(value)}")
    return value


def _entry(raw: object, where: str, source: str) -> PriceEntry:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping")
    line_item = raw.get("line_item")
    if not line_item:
        raise ConfigError(f"{where}: missing required field 'line_item'")
    line_item = require_str(line_item, f"{where}: 'line_item'", max_len=200)
    plan = require_str(raw.get("plan", "*"), f"{where}: 'plan'", max_len=100).lower()
    if plan != "*" and plan not in PLANS:
        raise ConfigError(f"{where}: 'plan' must be '*' or one of {', '.join(PLANS)}, got {shown(plan)}")
    eff = raw.get("effective_from")
    if isinstance(eff, str):
        try:
            eff = dt.date.fromisoformat(eff)
        except ValueError:
            raise ConfigError(f"{where}: 'effective_from' must be a date (YYYY-MM-DD), got {shown(eff)}") from None
    if not isinstance(eff, dt.date):
        raise ConfigError(f"{where}: missing or invalid 'effective_from' (YYYY-MM-DD)")
    if isinstance(eff, dt.datetime):
        eff = eff.date()
    per_quantity = _number(raw, "per_quantity", 1, where)
    if per_quantity == 0:
        raise ConfigError(f"{where}: 'per_quantity' must be positive")
    return PriceEntry(
        line_item=line_item,
        plan=plan,
        organization=_text(raw, "organization", where, "*"),
        effective_from=eff,
        effective_to=None,
        unit=_text(raw, "unit", where),
        price_usd=_number(raw, "price_usd", None, where),
        per_quantity=per_quantity,
        rounding=_choice(raw, "rounding", "none", ROUNDINGS, where),
        included=_number(raw, "included", 0, where),
        included_basis=_choice(raw, "included_basis", "cycle", BASES, where),
        quota_scope=_choice(raw, "quota_scope", "none", SCOPES, where),
        kind=_choice(raw, "kind", "usage", KINDS, where),
        source=source,
        notes=_text(raw, "notes", where),
    )


def read_entries(path: str | Path) -> list[PriceEntry]:
    """Parse one price book file; every error names the file and the entry."""
    path = Path(path)
    doc = read_yaml(path, f"price book {path} does not exist") or {}
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise ConfigError(f"{path}: expected a mapping with a list under 'entries'")
    currency = doc.get("currency", "USD")
    if currency != "USD":
        raise ConfigError(f"{path}: only USD price books are supported, got {shown(currency)}")
    return [_entry(raw, f"{path}: entries[{i}]", path.name) for i, raw in enumerate(doc["entries"])]


def load_price_book(
    default_path: str | Path | None = None, overrides_path: str | Path | None = None
) -> list[PriceEntry]:
    """Default book merged with the overrides file (if any), with `effective_to` filled in."""
    entries = {(*e.key, e.effective_from): e for e in read_entries(default_path or DEFAULT_PRICE_BOOK)}
    if overrides_path is None:  # the settings' AIMATRIX_PRICE_BOOK_OVERRIDES ("" means none)
        from aimatrix_pipeline.settings import current_settings

        overrides_path = current_settings().price_book_overrides
    if overrides_path:
        for e in read_entries(overrides_path):
            entries[(*e.key, e.effective_from)] = e
    by_key: dict[tuple[str, str, str], list[PriceEntry]] = {}
    for e in entries.values():
        by_key.setdefault(e.key, []).append(e)
    result: list[PriceEntry] = []
    for key in sorted(by_key):
        versions = sorted(by_key[key], key=lambda e: e.effective_from)
        for i, e in enumerate(versions):
            nxt = versions[i + 1].effective_from if i + 1 < len(versions) else None
            result.append(PriceEntry(**{**asdict(e), "effective_to": nxt}))
    return result


PRICE_BOOK_SCHEMA = pa.schema(
    [
        ("line_item", pa.string()), ("plan", pa.string()), ("organization", pa.string()),
        ("effective_from", pa.date32()), ("effective_to", pa.date32()), ("unit", pa.string()),
        ("price_usd", pa.float64()), ("per_quantity", pa.float64()), ("rounding", pa.string()),
        ("included", pa.float64()), ("included_basis", pa.string()), ("quota_scope", pa.string()),
        ("kind", pa.string()), ("source", pa.string()), ("notes", pa.string()),
    ]
)


def write_price_book(conn, entries: list[PriceEntry]) -> int:
    """Replace cost.price_book with `entries` (caller holds the warehouse transaction)."""
    table = pa.Table.from_pylist([asdict(e) for e in entries], schema=PRICE_BOOK_SCHEMA)
    conn.execute("delete from cost.price_book")
    conn.register("price_book_rows", table)
    try:
        conn.execute("insert into cost.price_book by name select * from price_book_rows")
    finally:
        conn.unregister("price_book_rows")
    return len(entries)

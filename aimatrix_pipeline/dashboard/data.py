"""The dashboard's data: one DuckDB query per data set, from `sql/warehouse/dashboard/*.sql`.

All aggregation happens in those files (fleet totals are the rows with project '*'); this module
only runs them on a read-only warehouse connection and returns plain columns and rows, which the
HTML page, the JSON export and the CSV export all share, so the three never disagree.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path

from aimatrix_pipeline.sql_files import load_sql, sql_files

FOLDER = "warehouse/dashboard"


def dataset_names() -> list[str]:
    return [p.stem for p in sql_files(FOLDER)]


@dataclass
class Dataset:
    name: str
    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, (_plain(v) for v in row))) for row in self.rows]


@dataclass
class DashboardData:
    generated_at: str
    warehouse: str
    datasets: dict[str, Dataset]

    def to_json_obj(self) -> dict:
        return {
            "generated_at": self.generated_at,
            "warehouse": self.warehouse,
            "datasets": {name: {"columns": d.columns, "rows": [[_plain(v) for v in r] for r in d.rows]}
                         for name, d in self.datasets.items()},
        }

    def row_count(self) -> int:
        return sum(len(d.rows) for d in self.datasets.values())


def _plain(value):
    """JSON-friendly value: timestamps as ISO 8601 (UTC), decimals as floats, UUIDs as text."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):  # NaN and Infinity are not JSON
        return None
    return value


def collect(conn, warehouse_path: str = "") -> DashboardData:
    """Run every dashboard query on `conn` (a read-only warehouse connection)."""
    conn.execute("set TimeZone = 'UTC'")
    datasets: dict[str, Dataset] = {}
    for name in dataset_names():
        cur = conn.execute(load_sql(f"{FOLDER}/{name}.sql"))
        columns = [d[0] for d in cur.description]
        datasets[name] = Dataset(name, columns, cur.fetchall())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    return DashboardData(now, warehouse_path, datasets)


def write_json(data: DashboardData, path: Path) -> Path:
    """The dashboard's data as JSON: {generated_at, warehouse, datasets: {name: {columns, rows}}}."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data.to_json_obj(), indent=1))
    return path


def csv_text(dataset: Dataset) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(dataset.columns)
    writer.writerows([[_plain(v) for v in r] for r in dataset.rows])
    return buf.getvalue()


def write_csv(data: DashboardData, path: Path) -> list[Path]:
    """One CSV file per data set in the folder `path` (created), or a .zip of them if `path` ends in .zip."""
    if path.suffix == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, d in data.datasets.items():
                zf.writestr(f"{name}.csv", csv_text(d))
        return [path]
    path.mkdir(parents=True, exist_ok=True)
    written = []
    for name, d in data.datasets.items():
        target = path / f"{name}.csv"
        target.write_text(csv_text(d))
        written.append(target)
    return written

"""Billing usage per project and day, from the monitored database and Supabase's HTTP APIs.

Why this shape: one run extracts a range of days for every project (a backfill of three months
is one run, one connection per project, one usage-API call per project), and every figure carries
where it came from. A source we cannot read becomes an 'unknown' row with the reason, so the cost
layer prints "unknown", never a cheerful $0. Historical days are rebuilt from timestamped
sources: the auth audit log (MAU), object creation times (storage), the daily usage API (egress,
invocations, realtime, compute and disk hours). Sources that only know "now" (add-ons, disk
config, database size) are applied to past days with method 'current_state'.

A project whose database cannot be reached gets its database items marked unknown, with the
reason in each row's `detail` and in the asset's metadata; the other projects proceed. A project
whose database is not configured at all (its DSN variable unset, e.g. a fresh shell without
SUPABASE_DB_URL) is a configuration error: the asset fails and writes nothing
(`ExtractReport.config_errors`), so a misconfigured run never replaces known usage with unknown. Two API answers stop the run instead: 401 (the token is wrong: a
configuration error) and a malformed body (we do not price what we cannot parse).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

import psycopg
import pyarrow as pa

from aimatrix_pipeline.resources.source_postgres import (
    SourceConfigError,
    SourcePostgresResource,
    SourceUnavailable,
    redact_dsn,
)
from aimatrix_pipeline.resources.supabase_api import (
    SupabaseApiClient,
    SupabaseApiUnavailable,
    finite_number,
)
from aimatrix_pipeline.settings import Project, Settings
from aimatrix_pipeline.sql_files import load_sql

UTC = dt.UTC

# usage API metric -> (metric, dimension, unit)
USAGE_API_METRICS = {
    "EGRESS": ("egress_gb", "", "GB"),
    "CACHED_EGRESS": ("cached_egress_gb", "", "GB"),
    "FUNCTION_INVOCATIONS": ("function_invocations", "", "invocations"),
    "REALTIME_MESSAGE_COUNT": ("realtime_messages", "", "messages"),
    "REALTIME_PEAK_CONNECTIONS": ("realtime_peak_connections", "", "connections"),
    "STORAGE_IMAGES_TRANSFORMED": ("image_transformations", "", "images"),
    "DISK_SIZE_GB_HOURS_GP3": ("disk_gb_hours", "gp3", "GB-hour"),
    "DISK_SIZE_GB_HOURS_IO2": ("disk_gb_hours", "io2", "GB-hour"),
}
# metrics priced from the usage API alone: unknown when it cannot be read
USAGE_API_ONLY = ("egress_gb", "cached_egress_gb", "function_invocations", "realtime_messages",
                  "realtime_peak_connections", "image_transformations")
COMPUTE_PREFIX = "COMPUTE_HOURS_"

# Management API add-on variant -> price book add-on name (line item addon_<name>)
ADDON_VARIANTS = {
    "pitr_7": "pitr_7", "pitr_14": "pitr_14", "pitr_28": "pitr_28",
    "cd_default": "custom_domain", "ipv4_default": "ipv4", "log_drain_default": "log_drain",
    "auth_mfa_phone_default": "auth_mfa_phone", "auth_mfa_web_authn_default": "auth_mfa_web_authn",
}


def compute_size_from_variant(variant_id: str) -> str:
    """`ci_2xlarge` -> `2xl`, `ci_micro` -> `micro` (the price book's size names)."""
    size = variant_id.removeprefix("ci_")
    size = size.replace("xlarge", "xl")
    return size


def compute_size_from_metric(metric: str) -> str:
    return compute_size_from_variant("ci_" + metric[len(COMPUTE_PREFIX):].lower())


@dataclass
class UsageRows:
    """Collects raw.usage_daily rows for one run."""

    extracted_at: dt.datetime
    rows: list[dict] = field(default_factory=list)

    def add(self, project: Project, day: dt.date, metric: str, dimension: str, usage, unit: str,
            source: str, method: str | None = None, detail: str | None = None) -> None:
        if usage is not None and not math.isfinite(float(usage)):
            # the last guard before a value becomes 'known': NaN/Infinity never priced
            detail = f"{source} gave a non-finite value ({float(usage)!r}); stored as unknown"
            usage = None
        self.rows.append({
            "project": project.name, "organization": project.organization, "usage_date": day,
            "metric": metric, "dimension": dimension, "usage": None if usage is None else float(usage),
            "unit": unit, "status": "known" if usage is not None else "unknown", "source": source,
            "method": method, "detail": detail, "extracted_at": self.extracted_at,
        })

    def unknown(self, project: Project, days: list[dt.date], metric: str, dimension: str, unit: str,
                source: str, reason: str) -> None:
        for day in days:
            self.add(project, day, metric, dimension, None, unit, source, None, reason)

    def table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rows, schema=USAGE_SCHEMA)


USAGE_SCHEMA = pa.schema([
    ("project", pa.string()), ("organization", pa.string()), ("usage_date", pa.date32()),
    ("metric", pa.string()), ("dimension", pa.string()), ("usage", pa.float64()), ("unit", pa.string()),
    ("status", pa.string()), ("source", pa.string()), ("method", pa.string()), ("detail", pa.string()),
    ("extracted_at", pa.timestamp("us", tz="UTC")),
])


@dataclass
class ExtractReport:
    rows: int = 0
    unknown_rows: int = 0
    project_errors: dict[str, list[str]] = field(default_factory=dict)
    config_errors: dict[str, str] = field(default_factory=dict)  # project -> why its source is unusable
    mau_methods: dict[str, list[str]] = field(default_factory=dict)


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _month_chunks(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    chunks, cur = [], start
    while cur <= end:
        nxt = (cur.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        chunks.append((cur, min(end, nxt - dt.timedelta(days=1))))
        cur = nxt
    return chunks


def _ts(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=UTC)


# ---------------------------------------------------------------------------- database
SIGN_INS_MARKER = "/*SIGN_INS*/"


def sign_ins_query(conn: psycopg.Connection, name: str) -> str:
    """`source/usage/<name>.sql` reading sign-ins through the monitoring-role view where this role
    can read it (the least-privileged role cannot read the audit log itself), else from the log."""
    readable = conn.execute(load_sql("source/usage/sign_ins_view_readable.sql")).fetchone()[0]
    source = load_sql("source/usage/sign_ins.view.sql" if readable else "source/usage/sign_ins.table.sql")
    return load_sql(f"source/usage/{name}.sql").replace(SIGN_INS_MARKER, source)


def _mau_usage(conn: psycopg.Connection, project: Project, start: dt.date, end: dt.date,
               out: UsageRows, report: ExtractReport) -> None:
    for c_start, c_end in _month_chunks(start, end):
        params = {"cycle_start": _ts(c_start.replace(day=1)), "start": _ts(c_start),
                  "end_exclusive": _ts(c_end + dt.timedelta(days=1))}
        available = conn.execute(sign_ins_query(conn, "audit_log_available"), params).fetchone()[0]
        method = "audit_log" if available else "last_sign_in_fallback"
        query = (sign_ins_query(conn, "mau_audit_log") if available
                 else load_sql("source/usage/mau_last_sign_in.sql"))
        found = {row[0]: row[1:] for row in conn.execute(query, params).fetchall()}
        report.mau_methods.setdefault(project.name, []).append(f"{c_start:%Y-%m}:{method}")
        for day in _days(c_start, c_end):
            mau, sso, anon = found.get(day, (0, 0, 0))
            out.add(project, day, "mau", "", mau, "users", "database", method)
            out.add(project, day, "sso_mau", "", sso, "users", "database", method)
            out.add(project, day, "anonymous_mau", "", anon, "users", "database", method,
                    "included in mau (anonymous sign-ins are billed as MAU)")


def _storage_usage(conn: psycopg.Connection, project: Project, start: dt.date, end: dt.date,
                   out: UsageRows, report: ExtractReport) -> None:
    storage = conn.execute(load_sql("source/usage/storage_by_bucket.sql"),
                           {"start_day": start, "end_day": end}).fetchall()
    per_day: dict[dt.date, list] = {}
    for day, bucket, size, unsized in storage:
        per_day.setdefault(day, []).append((bucket, size, unsized))
    for day in _days(start, end):
        buckets = per_day.get(day)
        if not buckets:
            out.add(project, day, "storage_size_bytes", "", 0, "bytes", "database", "objects_created_by_day",
                    "no storage buckets")
            continue
        for bucket, size, unsized in buckets:
            detail = f"{unsized} objects without a numeric metadata size" if unsized else None
            out.add(project, day, "storage_size_bytes", bucket, size, "bytes", "database",
                    "objects_created_by_day", detail)


# each database item is read on its own: one that cannot be read (a database without Supabase's
# auth or storage schema, a role without the grant) is unknown with ITS reason, the others known
DB_PARTS = (
    ("MAU from auth.audit_log_entries / auth.users", ("mau", "sso_mau", "anonymous_mau"), _mau_usage),
    ("storage from storage.objects", ("storage_size_bytes",), _storage_usage),
)


def _database_usage(conn: psycopg.Connection, project: Project, start: dt.date, end: dt.date,
                    today: dt.date, out: UsageRows, report: ExtractReport) -> None:
    days = _days(start, end)
    for what, metrics, read in DB_PARTS:
        kept = len(out.rows)
        try:
            read(conn, project, start, end, out, report)
        except psycopg.Error as exc:
            conn.rollback()  # a lost connection raises here: the caller marks every item unknown
            del out.rows[kept:]
            reason = f"database ({what}): {redact_dsn(str(exc)).strip().splitlines()[0][:300]}"
            report.project_errors.setdefault(project.name, []).append(reason)
            units = dict(DB_METRICS)
            for metric in metrics:
                out.unknown(project, days, metric, "", units[metric], "database", reason)
        else:
            conn.rollback()  # end the read's transaction: the next part starts clean

    recent = [d for d in days if d >= today - dt.timedelta(days=1)]
    if recent:
        size = conn.execute(load_sql("source/usage/database_size.sql")).fetchone()[0]
        for day in recent:
            out.add(project, day, "database_size_bytes", "", size, "bytes", "database", "current_state")


DB_METRICS = (("mau", "users"), ("sso_mau", "users"), ("anonymous_mau", "users"),
              ("storage_size_bytes", "bytes"))


# ---------------------------------------------------------------------------- APIs
def _day_of(value) -> dt.date | None:
    """Analytics timestamps come as ISO strings or epoch numbers (microseconds from Logflare)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if finite_number(value) is None:
            return None
        seconds = value / 1e6 if value > 1e14 else value / 1e3 if value > 1e11 else value
        try:
            return dt.datetime.fromtimestamp(seconds, UTC).date()
        except (ValueError, OverflowError, OSError):
            return None
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value).astimezone(UTC).date()
        except ValueError:
            return None
    return None


NO_PLAN = "no plan configured"
NO_PLAN_HINT = (f"{NO_PLAN} (set the organization's plan in the projects file, or SUPABASE_PLAN): "
                "not priced as a Supabase project")


def _api_usage(api: SupabaseApiClient, project: Project, start: dt.date, end: dt.date, today: dt.date,
               out: UsageRows, report: ExtractReport, plan: str | None = "pro") -> None:
    days = _days(start, end)
    in_range = set(days)

    def problem(msg: str) -> None:
        report.project_errors.setdefault(project.name, []).append(msg)

    # Daily usage (non-public org endpoint): the timestamped source for past days.
    usage_api: dict[tuple[str, str], dict[dt.date, float]] | None = None
    rejected: dict[tuple[str, str], dict[dt.date, str]] = {}  # values we will not price, and why
    usage_reason = None
    if not project.ref:
        usage_reason = "no Supabase project ref configured for this project (settings: ref)"
    else:
        try:
            usages = api.org_daily_usage(project.organization, start, end, project.ref)
            usage_api = {}
            for u in usages:
                day = dt.date.fromisoformat(u["date"][:10])
                if day not in in_range or u.get("usage") is None:
                    continue
                name = u["metric"]
                if name in USAGE_API_METRICS:
                    metric, dim, _unit = USAGE_API_METRICS[name]
                elif name.startswith(COMPUTE_PREFIX):
                    metric, dim = "compute_hours", compute_size_from_metric(name)
                else:
                    continue
                value = finite_number(u["usage"])
                if value is None or value < 0:
                    reason = (f"daily usage API sent {str(u['usage'])[:40]!r} for {name} on {day}: not a "
                              "finite, non-negative number; stored as unknown")
                    rejected.setdefault((metric, dim), {})[day] = reason
                    problem(reason)
                    continue
                bucket = usage_api.setdefault((metric, dim), {})
                bucket[day] = bucket.get(day, 0.0) + value
        except SupabaseApiUnavailable as exc:
            usage_reason = f"daily usage API: {exc}"
            problem(usage_reason)

    def from_usage_api(metric: str, dim: str, unit: str) -> None:
        values, bad = (usage_api or {}).get((metric, dim), {}), rejected.get((metric, dim), {})
        for day in days:
            out.add(project, day, metric, dim, None if day in bad else values.get(day, 0.0), unit,
                    "usage_api", "daily_usage", bad.get(day))

    api_keys = set(usage_api or {}) | set(rejected)
    for metric in USAGE_API_ONLY:
        unit = next(v[2] for v in USAGE_API_METRICS.values() if v[0] == metric)
        if usage_api is None:
            out.unknown(project, days, metric, "", unit, "usage_api", usage_reason)
        else:
            from_usage_api(metric, "", unit)

    # Add-ons and compute size (current selection).
    addons = None
    addons_reason = usage_reason if not project.ref else None
    if project.ref:
        try:
            addons = api.project_addons(project.ref)
        except SupabaseApiUnavailable as exc:
            addons_reason = f"billing/addons: {exc}"
            problem(addons_reason)

    compute_from_api = sorted(k for k in api_keys if k[0] == "compute_hours")
    if compute_from_api:
        for metric, size in compute_from_api:
            from_usage_api(metric, size, "hour")
    elif addons is None and plan is None:
        # nothing says this database runs on Supabase compute: no size is assumed for it
        out.unknown(project, days, "compute_hours", project.compute_size, "hour", "config", NO_PLAN_HINT)
    else:
        size, source, method = project.compute_size, "config", "configured_size"
        if addons is not None:
            for a in addons["selected_addons"]:
                if a["type"] == "compute_instance":
                    size = compute_size_from_variant(a["variant"]["id"])
                    source, method = "management_api", "current_state"
        for day in days:
            out.add(project, day, "compute_hours", size, 24, "hour", source, method)

    if addons is None:
        out.unknown(project, days, "addon_hours", "all", "hour", "management_api", addons_reason)
    else:
        for a in addons["selected_addons"]:
            if a["type"] == "compute_instance":
                continue
            name = ADDON_VARIANTS.get(a["variant"]["id"], a["variant"]["id"])
            for day in days:
                out.add(project, day, "addon_hours", name, 24, "hour", "management_api", "current_state")

    # Disk: provisioned GB-hours.
    disk_from_api = sorted(k for k in api_keys if k[0] == "disk_gb_hours")
    if disk_from_api:
        for metric, dtype in disk_from_api:
            from_usage_api(metric, dtype, "GB-hour")
    elif not project.ref:
        out.unknown(project, days, "disk_gb_hours", "gp3", "GB-hour", "management_api", usage_reason)
    else:
        try:
            attrs = api.disk(project.ref)["attributes"]
            size_gb = finite_number(attrs["size_gb"])
            if size_gb is None or size_gb < 0:
                reason = (f"config/disk: size_gb {str(attrs['size_gb'])[:40]!r} is not a finite, "
                          "non-negative number; stored as unknown")
                problem(reason)
                out.unknown(project, days, "disk_gb_hours", attrs["type"], "GB-hour", "management_api", reason)
            else:
                for day in days:
                    out.add(project, day, "disk_gb_hours", attrs["type"], size_gb * 24, "GB-hour",
                            "management_api", "current_state")
        except SupabaseApiUnavailable as exc:
            problem(f"config/disk: {exc}")
            out.unknown(project, days, "disk_gb_hours", "gp3", "GB-hour", "management_api", f"config/disk: {exc}")

    # API request counts (informational; the analytics endpoint covers the last 7 days).
    if project.ref:
        try:
            counts = api.api_counts(project.ref, "7day")
            per_day: dict[dt.date, dict[str, float]] = {}
            for row in counts:
                day = _day_of(row["timestamp"])
                if day in in_range:
                    agg = per_day.setdefault(day, {})
                    for kind in ("rest", "auth", "storage", "realtime"):
                        raw = row[f"total_{kind}_requests"]
                        value = 0.0 if raw is None else finite_number(raw)
                        # a non-finite or non-numeric count makes the day's figure unknown (NaN)
                        agg[kind] = agg.get(kind, 0.0) + (math.nan if value is None or value < 0 else value)
            for day, agg in sorted(per_day.items()):
                for kind, value in agg.items():
                    out.add(project, day, "api_requests", kind, value, "requests", "management_api", "api_counts")
        except SupabaseApiUnavailable as exc:
            problem(f"usage.api-counts: {exc}")

    # Edge function request counts (informational; the analytics window is the last day only).
    if project.ref and end >= today - dt.timedelta(days=1):
        try:
            for fn in api.functions(project.ref):
                per_fn: dict[dt.date, float] = {}
                for row in api.function_stats(project.ref, fn["id"], "1day"):
                    day = _day_of(row.get("timestamp"))
                    count = finite_number(row.get("requests_count"))
                    if day in in_range and count is not None and count >= 0:
                        per_fn[day] = per_fn.get(day, 0.0) + count
                for day, value in sorted(per_fn.items()):
                    out.add(project, day, "edge_function_requests", fn["slug"], value, "requests",
                            "management_api", "functions.combined-stats")
        except SupabaseApiUnavailable as exc:
            problem(f"functions.combined-stats: {exc}")


# ---------------------------------------------------------------------------- run
def collect_usage(settings: Settings, source: SourcePostgresResource, api: SupabaseApiClient,
                  start: dt.date, end: dt.date,
                  today: dt.date | None = None) -> tuple[UsageRows, ExtractReport]:
    """Usage rows for every configured project and day start..end."""
    today = today or dt.datetime.now(UTC).date()
    out = UsageRows(extracted_at=dt.datetime.now(UTC))
    report = ExtractReport()
    days = _days(start, end)
    for project in settings.projects:
        try:
            with source.connect(project.db_url_env) as conn:
                _database_usage(conn, project, start, end, today, out, report)
                conn.rollback()
        except (SourceConfigError, SourceUnavailable, psycopg.Error) as exc:
            reason = f"database: {redact_dsn(str(exc)).strip().splitlines()[0][:300]}"
            report.project_errors.setdefault(project.name, []).append(reason)
            if isinstance(exc, SourceConfigError):
                report.config_errors[project.name] = reason
            out.rows = [r for r in out.rows
                        if not (r["project"] == project.name and r["source"] == "database")]
            for metric, unit in DB_METRICS:
                out.unknown(project, days, metric, "", unit, "database", reason)
        _api_usage(api, project, start, end, today, out, report,
                   settings.organization(project.organization).plan)
    report.rows = len(out.rows)
    report.unknown_rows = sum(1 for r in out.rows if r["status"] == "unknown")
    return out, report


def write_usage(conn, rows: UsageRows, start: dt.date, end: dt.date) -> int:
    """Replace raw.usage_daily for the days start..end (the partition owns all projects' rows)."""
    conn.execute("delete from raw.usage_daily where usage_date between ? and ?", [start, end])
    conn.register("usage_rows", rows.table())
    try:
        conn.execute("insert into raw.usage_daily by name select * from usage_rows")
    finally:
        conn.unregister("usage_rows")
    return len(rows.rows)

"""`aimatrix-pipeline apply <recommendation-id>`: show a remediation, and run it only when confirmed.

Exit codes: 0 shown (dry run) or applied and verified; 1 refused statement or failed/unverified
execution (reported and recorded); 2 unknown id, missing warehouse, or no usable write DSN.
"""

from __future__ import annotations

import json
import sys

from aimatrix_pipeline.terminal import escape

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _show(rec, out) -> None:
    """Names, titles and SQL come from the monitored database: every value is escaped
    (terminal.escape), so none can move the cursor, recolour or rewrite the terminal."""
    out.write(f"recommendation {escape(rec.id)}  [{escape(rec.project)}]\n")
    out.write(f"  finding : {escape(rec.name)} ({escape(rec.level or '-')}, "
              f"impact {rec.impact if rec.impact is not None else '-'})\n")
    out.write(f"  title   : {escape(rec.title or '')}\n")
    if rec.object_name:
        target = f"{rec.object_schema}.{rec.object_name}" if rec.object_schema else rec.object_name
        out.write(f"  object  : {escape(target)}\n")
    if rec.last_seen:
        out.write(f"  seen    : {rec.last_seen}\n")
    if rec.detail:
        out.write(f"  detail  : {escape(rec.detail)}\n")
    out.write("  evidence:\n")
    for line in json.dumps(rec.metadata, indent=2, default=str, sort_keys=True).splitlines():
        out.write(f"    {line}\n")
    out.write("  remediation SQL:\n")
    for line in (rec.remediation_sql or "(none)").splitlines():
        out.write(f"    {escape(line)}\n")


def cmd_apply(args) -> int:
    import duckdb

    from aimatrix_pipeline.remediation import apply as ap
    from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout, warehouse_from_env
    from aimatrix_pipeline.settings import current_settings

    out, err = sys.stdout, sys.stderr
    if args.confirm and args.dry_run:
        err.write("error: --dry-run and --confirm contradict each other; pass only --confirm to run\n")
        return EXIT_USAGE
    wh = warehouse_from_env()
    try:
        rec = ap.load_recommendation(wh, args.recommendation_id)
    except FileNotFoundError as exc:
        err.write(f"error: {exc}\n")
        return EXIT_USAGE
    except WarehouseLockTimeout as exc:
        err.write(f"error: {exc}\n")
        return EXIT_FAILED
    except duckdb.CatalogException:
        err.write("error: analytics.optimization_recommendations does not exist yet: run the analytics assets first\n")
        return EXIT_USAGE
    if rec is None:
        err.write(f"error: no recommendation with id {args.recommendation_id!r} in "
                  "analytics.optimization_recommendations or analytics.index_suggestions (ids change only when the "
                  "finding does; "
                  "list them with `aimatrix-pipeline report recommendations`)\n")
        return EXIT_USAGE
    _show(rec, out)
    try:
        actions = ap.plan(rec)
    except ap.Refused as exc:
        out.write(f"\nrefused: {escape(exc)}\n")
        if args.confirm:
            outcome = ap.refused(str(exc))
            ap.record(wh, rec, outcome, rec.remediation_sql or "")
        return EXIT_FAILED
    out.write("\nwill run (autocommit, lock_timeout "
              f"{args.lock_timeout_ms} ms, statement_timeout {args.statement_timeout_ms} ms):\n")
    for a in actions:
        out.write(f"  [{a.kind}] {escape(a.sql)};\n")
    if not args.confirm:
        out.write("\ndry run: nothing was executed. Re-run with --confirm to apply.\n")
        return EXIT_OK
    project = current_settings().project(rec.project)
    env_name, dsn = ap.resolve_write_dsn(project)  # ApplyConfigError is a ConfigError -> exit 2
    out.write(f"\napplying with the DSN in ${env_name} ...\n")
    outcome = ap.execute(dsn, actions, lock_timeout_ms=args.lock_timeout_ms,
                         statement_timeout_ms=args.statement_timeout_ms,
                         cleanup_lock_timeout_ms=args.cleanup_lock_timeout_ms)
    statement = ";\n".join(a.sql for a in actions) + ";"
    attempt = ap.record(wh, rec, outcome, statement)
    out.write(f"result: {outcome.result}: {escape(outcome.message)}\n")
    if outcome.cleanup:
        out.write(f"cleanup: {escape(outcome.cleanup)}\n")
    out.write(f"recorded as {attempt} in ops.applied_recommendations\n")
    if outcome.result == "succeeded":
        out.write("the finding disappears after the next statistics snapshot and analytics run\n")
        return EXIT_OK
    return EXIT_FAILED


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "apply",
        help="show a recommendation's remediation SQL; run it only with --confirm",
        description="Show the remediation SQL of a finding in analytics.optimization_recommendations "
        "and its evidence. With --confirm, run it on the project's database through a DSN allowed "
        "to write (apply_db_url_env of the project, else $AIMATRIX_APPLY_DB_URL; never the monitoring "
        "DSN). Only CREATE/DROP INDEX CONCURRENTLY, VACUUM and ANALYZE are run, only the kinds the "
        "finding allows and only on the finding's own object, in autocommit with a lock_timeout, and "
        "verified afterwards. The outcome is recorded in ops.applied_recommendations.",
    )
    p.add_argument("recommendation_id", help="the id column of analytics.optimization_recommendations")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--dry-run", action="store_true", default=False,
                      help="only show what would run (the default)")
    mode.add_argument("--confirm", action="store_true", help="really run the remediation")
    p.add_argument("--lock-timeout-ms", type=int, default=5_000,
                   help="give up when a lock is not granted within this time (default 5000)")
    p.add_argument("--cleanup-lock-timeout-ms", type=int, default=60_000,
                   help="lock_timeout for dropping an invalid index a failed build left behind (default 60000)")
    p.add_argument("--statement-timeout-ms", type=int, default=3_600_000,
                   help="cancel a statement running longer than this (default 1 hour)")
    p.set_defaults(func=cmd_apply)

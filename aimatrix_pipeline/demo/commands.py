"""The `demo` subcommand (registered by cli.py through `register(subparsers)`)."""

from __future__ import annotations

import argparse
from pathlib import Path


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {text}")
    return value


def cmd_demo(args) -> int:
    from aimatrix_pipeline.demo.runner import DemoConfig, run_demo

    config = DemoConfig(
        data_dir=Path(args.data_dir),
        port=args.port,
        ui=not args.no_ui,
        scale=args.scale,
        seed=args.seed,
        duration=args.duration,
        workload=not args.no_workload,
        materialize=not args.no_materialize,
    )
    return run_demo(config)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the whole pipeline against an embedded, Supabase-like PostgreSQL (no setup needed)",
        description="Start an embedded PostgreSQL 18 that looks like a Supabase project (seeded once, "
        "kept in --data-dir), drive realistic traffic against it, and run the Dagster UI with "
        "schedules on (Dagster's storage in the same cluster). Ctrl-C stops everything; running "
        "the command again reuses the data. --no-ui runs the workload for --duration seconds, "
        "materializes every asset once, prints warehouse row counts and exits.",
    )
    p.add_argument("--data-dir", default=".aimatrix-demo", help="where the cluster, warehouse and "
                   "Dagster home live (default: .aimatrix-demo)")
    p.add_argument("--port", type=int, default=3000, help="Dagster UI port (default: 3000)")
    p.add_argument("--no-ui", action="store_true", help="no UI: workload, one materialization, row counts, exit")
    p.add_argument("--scale", type=_positive_float, default=1.0,
                   help="size of the seeded history on first start (1.0 = ~100k rows; default 1.0)")
    p.add_argument("--seed", type=int, default=1, help="random seed for data and workload (default: 1)")
    p.add_argument("--duration", type=_non_negative_float, default=30.0,
                   help="--no-ui: seconds of workload before materializing (default: 30)")
    p.add_argument("--no-workload", action="store_true", help="do not generate traffic")
    p.add_argument("--no-materialize", action="store_true",
                   help="--no-ui: skip the materialization (only seed and run the workload)")
    p.set_defaults(func=cmd_demo)

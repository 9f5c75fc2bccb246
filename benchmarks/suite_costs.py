"""Where the test suite's time goes, grouped by what each test pays for.

Run the suite with `AIMATRIX_TEST_TIMINGS=<file>` (tests/timings.py appends one line per test),
then `python benchmarks/suite_costs.py <file>`. Each test is put in the first group whose cost it
pays, in the order of the table, so the groups add up to the suite:

- browser: headless Chromium (tests/ui, the dashboard's hostile page);
- wheel: builds or installs the package in a fresh venv;
- daemon: a real `dagster-daemon` (alert end to end, the two-location deployment);
- Dagster subprocess: CLI commands or `dagster` runs in child processes (children's CPU > 0.5 s);
- shared setup: most of the test's time went to its fixtures' setup (the first test on a worker
  to ask for a PostgreSQL cluster pays its initdb and start; a module's first test pays for the
  pipeline runs the module shares);
- source database: a fresh database with the demo schema per test (`source_db*`);
- real work: everything else (in-process Dagster, DuckDB, pure functions).

Prints a markdown table: tests, wall seconds, share of the suite's wall time, CPU of the test
process, CPU of its child processes; then the slowest tests of each group.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

GROUPS = ("browser", "wheel", "daemon", "Dagster subprocess", "shared setup", "source database", "real work")


def group_of(rec: dict) -> str:
    node, fixtures = rec["nodeid"], set(rec.get("fixtures", []))
    if node.startswith("tests/ui/") or "browser" in fixtures or "driver" in fixtures or "hostile/test_dashboard" in node:
        return "browser"
    if fixtures & {"wheel", "venv_python"}:
        return "wheel"
    if "daemon" in node or "two_locations" in node or any("daemon" in f for f in fixtures):
        return "daemon"
    if rec.get("children_cpu_s", 0) > 0.5:
        return "Dagster subprocess"
    if rec.get("setup_s", 0) > 1.0 and rec.get("setup_s", 0) > rec["wall_s"] / 2:
        return "shared setup"
    if any(f.startswith("source_db") for f in fixtures):
        return "source database"
    return "real work"


def load(paths: list[Path]) -> list[dict]:
    records = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
    return records


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path, help="AIMATRIX_TEST_TIMINGS files")
    ap.add_argument("--top", type=int, default=5, help="slowest tests listed per group")
    args = ap.parse_args(argv)
    records = load(args.files)
    by_group: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        by_group[group_of(rec)].append(rec)
    total = sum(r["wall_s"] for r in records) or 1.0
    workers = sorted({r.get("worker", "main") for r in records})
    print(f"{len(records)} tests, {total:.0f} s of test wall time summed over {len(workers)} worker(s)\n")
    print("| group | tests | wall s | of which setup s | share | test CPU s | children CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in GROUPS:
        recs = by_group.get(name, [])
        wall = sum(r["wall_s"] for r in recs)
        cpu = sum(r.get("cpu_s", 0) for r in recs)
        kids = sum(r.get("children_cpu_s", 0) for r in recs)
        setup = sum(r.get("setup_s", 0) for r in recs)
        print(f"| {name} | {len(recs)} | {wall:.0f} | {setup:.0f} | {wall / total:.0%} | {cpu:.0f} | {kids:.0f} |")
    for name in GROUPS:
        recs = sorted(by_group.get(name, []), key=lambda r: -r["wall_s"])[: args.top]
        if recs:
            print(f"\nslowest in {name}:")
            for r in recs:
                print(f"- {r['wall_s']:.1f} s  {r['nodeid']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

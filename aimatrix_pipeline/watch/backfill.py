"""`aimatrix-pipeline backfill`: cost reports of past days and months, on the instance `watch` uses.

Why a command of its own: Dagster's `asset materialize --partition-range` takes partition keys
whose format a user has to guess (a month is `2026-10-01`, not `2026-10`), answers a wrong one
with a traceback, and cannot take the daily and the monthly assets in one call. This takes a
month (`--month 2026-10`) or days (`--from/--to`), checks them against the partitions before
anything starts (a wrong key is one line naming the format and the valid range, exit code 2),
and launches one run per partitions definition, as the assets' `BackfillPolicy.single_run()`
asks: the days' usage in one run, the days' pricing (price book, daily cost) in one run, then the
months' reports in one run. The usage extract runs apart because it waits on Supabase's APIs and
holds no warehouse pool slot (aimatrix_pipeline/cost/jobs.py says why).
The runs are recorded in the instance's run history like the UI's backfills.

The runs execute in a child process that has the instance's environment (the demo's saved
settings, DAGSTER_HOME, Dagster's storage), as `aimatrix-pipeline dagster` runs Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from aimatrix_pipeline.settings import load_settings

USAGE_ASSET = "raw/usage_daily"
DEFAULT_SELECTION = (USAGE_ASSET, "cost/price_book", "cost/cost_breakdown_daily", "cost/monthly_cost_report")
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
DAY_FORMAT = "YYYY-MM-DD"
MONTH_FORMAT = "YYYY-MM"


class BackfillKeyError(ValueError):
    """A month or day that is not a valid partition; the message names the format and the range."""


@dataclass(frozen=True)
class BackfillRange:
    """Days to price (None when the month has no finished day yet) and months to report."""

    first_day: str | None
    last_day: str | None
    first_month: str
    last_month: str

    def describe(self) -> str:
        days = f"days {self.first_day}..{self.last_day}" if self.first_day else "no finished day"
        months = self.first_month[:7] if self.first_month == self.last_month \
            else f"{self.first_month[:7]}..{self.last_month[:7]}"
        return f"{days}, month(s) {months}"


def _valid_days(start: dt.date, today: dt.date) -> str:
    return f"days run from {start} to {today - dt.timedelta(days=1)} (yesterday, UTC)"


def _valid_months(start: dt.date, today: dt.date) -> str:
    return f"months run from {start:%Y-%m} to {today:%Y-%m} (the running month)"


def _parse_month(text: str, start: dt.date, today: dt.date) -> dt.date:
    try:
        month = dt.datetime.strptime(text, "%Y-%m").date()
    except ValueError:
        raise BackfillKeyError(f"--month {text!r} is not a month: give {MONTH_FORMAT} (e.g. {today:%Y-%m}); "
                               f"{_valid_months(start, today)}") from None
    if not start.replace(day=1) <= month <= today.replace(day=1):
        raise BackfillKeyError(f"--month {text} is outside the cost partitions: {_valid_months(start, today)} "
                               "(AIMATRIX_COST_START_DATE sets the first)")
    return month


def _parse_day(option: str, text: str, start: dt.date, today: dt.date) -> dt.date:
    try:
        day = dt.datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise BackfillKeyError(f"{option} {text!r} is not a day: give {DAY_FORMAT} (e.g. "
                               f"{today - dt.timedelta(days=1)}); {_valid_days(start, today)}") from None
    if not start <= day < today:
        raise BackfillKeyError(f"{option} {text} is outside the daily partitions: {_valid_days(start, today)} "
                               "(a day is priced once it is over; AIMATRIX_COST_START_DATE sets the first)")
    return day


def backfill_range(month: str | None, day_from: str | None, day_to: str | None, start_date: str,
                   today: dt.date) -> BackfillRange:
    """The days and months of `--month` or `--from/--to`, checked against the partitions."""
    start = dt.date.fromisoformat(start_date)
    if month and (day_from or day_to):
        raise BackfillKeyError("give --month or --from/--to, not both")
    if month:
        first = _parse_month(month, start, today)
        next_month = (first + dt.timedelta(days=32)).replace(day=1)
        first_day = max(first, start)
        last_day = min(next_month - dt.timedelta(days=1), today - dt.timedelta(days=1))
        if last_day < first_day:  # the 1st of the running month: nothing finished to price yet
            return BackfillRange(None, None, first.isoformat(), first.isoformat())
        return BackfillRange(first_day.isoformat(), last_day.isoformat(), first.isoformat(), first.isoformat())
    if not day_from:
        raise BackfillKeyError(f"give --month {MONTH_FORMAT} or --from {DAY_FORMAT} [--to {DAY_FORMAT}]")
    first_day = _parse_day("--from", day_from, start, today)
    last_day = _parse_day("--to", day_to, start, today) if day_to else today - dt.timedelta(days=1)
    if last_day < first_day:
        raise BackfillKeyError(f"--to {last_day} is before --from {first_day}")
    return BackfillRange(first_day.isoformat(), last_day.isoformat(), first_day.replace(day=1).isoformat(),
                         last_day.replace(day=1).isoformat())


DAILY_ASSETS = frozenset({"raw/usage_daily", "cost/cost_breakdown_daily", "cost/query_cost_daily"})
MONTHLY_ASSETS = frozenset({"cost/monthly_cost_report"})
UNPARTITIONED_COST = frozenset({"cost/price_book"})


def _option(args: list[str], name: str) -> str | None:
    for i, arg in enumerate(args):
        if arg == name and i + 1 < len(args):
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None


def dagster_partition_problem(args: list[str], start_date: str, today: dt.date) -> str | None:
    """For `aimatrix-pipeline dagster -- asset materialize --select <cost assets> --partition ...`:
    the reason a partition key cannot be one of the selected assets' keys (Dagster's own answer is
    a DagsterUnknownPartitionError traceback), or None when it can, or when the selection is not
    only daily or only monthly cost assets (then Dagster judges)."""
    selection = _option(args, "--select")
    keys = [_option(args, "--partition")] if _option(args, "--partition") else \
        (_option(args, "--partition-range") or "").split("...")
    if not selection or not any(keys) or args[:2] != ["asset", "materialize"]:
        return None
    selected = {s.strip() for s in selection.split(",") if s.strip()} - UNPARTITIONED_COST
    start = dt.date.fromisoformat(start_date)
    if selected and selected <= DAILY_ASSETS:
        first, last, what = start, today - dt.timedelta(days=1), "daily"
    elif selected and selected <= MONTHLY_ASSETS:
        first, last, what = start.replace(day=1), today.replace(day=1), "monthly"
    else:
        return None
    for key in keys:
        try:
            day = dt.datetime.strptime(key, "%Y-%m-%d").date()
        except ValueError:
            day = None
        if day is None or not first <= day <= last or (what == "monthly" and day.day != 1):
            form = "YYYY-MM-DD" if what == "daily" else "the month's first day, YYYY-MM-01"
            month_hint = f" (for a month: aimatrix-pipeline backfill --month {key[:7]})" if len(key) >= 7 else ""
            return (f"partition key {key!r} is not a key of {', '.join(sorted(selected))}: {what} keys are {form}, "
                    f"from {first} to {last}{month_hint}")
    return None


def run_backfill(selection: list[str], month: str | None, day_from: str | None, day_to: str | None,
                 data_dir: Path, out: TextIO = sys.stderr, today: dt.date | None = None) -> int:
    """Check the range, then run the backfill's runs on the instance in `data_dir`; 0 when every
    run succeeded, 1 when one failed, 2 (BackfillKeyError, ConfigError) before anything ran."""
    from aimatrix_pipeline.watch.runner import check_sources, dagster_instance, instance_environment

    env = instance_environment(data_dir, out)
    check_sources(env)
    rng = backfill_range(month, day_from, day_to, load_settings(env).cost_start_date,
                         today or dt.datetime.now(dt.UTC).date())
    out.write(f"[backfill] {rng.describe()}\n")
    with dagster_instance(data_dir, out, env) as inst:
        plan = json.dumps({"selection": selection, "range": asdict(rng)})
        proc = subprocess.Popen([sys.executable, "-m", "aimatrix_pipeline.watch.backfill", plan],
                                cwd=inst.dagster_home, env=inst.env)
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            proc.wait(60)
            return 130
        if code == 0:
            out.write(f"[backfill] warehouse {inst.env['AIMATRIX_WAREHOUSE']}; read the month with: "
                      f"aimatrix-pipeline report cost --month {rng.last_month[:7]}\n")
        return code


# -- the child: the runs, in the instance's environment ---------------------------------------
def _say(message: str) -> None:
    print(f"[backfill] {message}", file=sys.stderr, flush=True)


def _failure_reasons(result) -> list[str]:
    reasons = []
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            message = " ".join(event.step_failure_data.error.message.split())[:500]
            reasons.append(f"{event.step_key}: {message}")
    return reasons


def execute(selection: list[str], rng: BackfillRange) -> int:
    """One run per partitions definition of the selection (single-run backfill policy)."""
    import dagster as dg

    from aimatrix_pipeline.cost.partitions import DAILY_PARTITIONS, MONTHLY_PARTITIONS
    from aimatrix_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    known = {key.to_user_string(): key for key in graph.get_all_asset_keys()}
    unknown = [s for s in selection if s not in known]
    if unknown:
        _say(f"error: unknown asset(s) {', '.join(unknown)}; the cost report assets are {','.join(DEFAULT_SELECTION)}")
        return 2
    daily, monthly, plain, other = [], [], [], []
    for name in selection:
        partitions = graph.get(known[name]).partitions_def
        (daily if partitions == DAILY_PARTITIONS else monthly if partitions == MONTHLY_PARTITIONS
         else plain if partitions is None else other).append(known[name])
    if other:
        _say(f"error: {', '.join(k.to_user_string() for k in other)} not partitioned by day or month; `backfill` "
             "takes the cost assets (use `aimatrix-pipeline dagster -- asset materialize ...` for others)")
        return 2
    runs: list[tuple[list, list, str | None, str | None]] = []  # (partitioned, unpartitioned, first, last)
    if daily and rng.first_day:
        # the usage extract waits on the network and holds no warehouse pool slot: a run of its
        # own, so the pooled pricing never shares (and holds the slot through) its wait
        extract = [k for k in daily if k.to_user_string() == USAGE_ASSET]
        pricing = [k for k in daily if k.to_user_string() != USAGE_ASSET]
        if extract:
            runs.append((extract, [], rng.first_day, rng.last_day))
        if pricing:
            runs.append((pricing, plain, rng.first_day, rng.last_day))
    if monthly:
        runs.append((monthly, plain, rng.first_month, rng.last_month))
    if plain and not any(unpartitioned for _k, unpartitioned, _f, _l in runs):
        runs.append(([], plain, None, None))  # e.g. usage and the price book only
    if not any(keys for keys, _p, _f, _l in runs):
        _say("nothing to run: the selection has no daily or monthly asset for this range "
             f"({rng.describe()})")
        return 2 if not (daily or monthly) else 0
    assets_defs = list(graph.assets_defs)
    failed = 0
    with dg.DagsterInstance.get() as instance:
        for keys, unpartitioned, first, last in runs:
            names = ", ".join(k.to_user_string() for k in [*unpartitioned, *keys])
            tags = {"aimatrix/backfill": "cli"}
            if keys:
                _say(f"run: {names} for {first}...{last} (partition keys, one run)")
                tags.update({RANGE_START_TAG: first, RANGE_END_TAG: last})
            else:
                _say(f"run: {names}")
            result = dg.materialize(assets_defs, instance=instance, raise_on_error=False,
                                    selection=dg.AssetSelection.assets(*unpartitioned, *keys), tags=tags)
            if result.success:
                _say(f"run {result.run_id}: SUCCESS")
                continue
            failed += 1
            _say(f"run {result.run_id}: FAILED")
            for reason in _failure_reasons(result):
                _say(f"  {reason}")
            break  # the months' reports would price days that were not priced
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    plan = json.loads(argv[0])
    return execute(plan["selection"], BackfillRange(**plan["range"]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""The single location and the split (two code locations) are assembled by one function.

Each location runs steps in-process and holds every asset check next to its asset, so the runs
that materialize an asset (its jobs' plans) include its checks in both deployments.
"""

from __future__ import annotations

import dagster as dg
import pytest

from aimatrix_pipeline.definitions import DOMAINS, build_definitions, defs
from aimatrix_pipeline.locations import derived_defs, extract_defs

LOCATIONS = {"single": defs, "extract": extract_defs, "derived": derived_defs}


def _repo(d: dg.Definitions):
    return d.get_repository_def()


def _own_assets(repo) -> set[dg.AssetKey]:
    graph = repo.asset_graph
    return {k for k in graph.get_all_asset_keys() if not graph.get(k).is_external}


@pytest.mark.parametrize("name", LOCATIONS)
def test_every_job_of_every_location_runs_in_process(name):
    jobs = _repo(LOCATIONS[name]).get_all_jobs()
    assert jobs
    assert {job.name: job.executor_def.name for job in jobs} == {job.name: "in_process" for job in jobs}


@pytest.mark.parametrize("name", LOCATIONS)
def test_every_check_is_in_the_location_of_its_asset(name):
    repo = _repo(LOCATIONS[name])
    own = _own_assets(repo)
    checks = set(repo.asset_graph.asset_check_keys)
    assert checks
    assert {c for c in checks if c.asset_key not in own} == set()


def test_the_split_keeps_every_check_once():
    single = set(_repo(defs).asset_graph.asset_check_keys)
    extract = set(_repo(extract_defs).asset_graph.asset_check_keys)
    derived = set(_repo(derived_defs).asset_graph.asset_check_keys)
    assert not (extract & derived)
    assert extract | derived == single
    # rule checks defined by the alerts domain on raw/* assets run in the extract location
    assert {c.asset_key for c in extract} <= _own_assets(_repo(extract_defs))
    assert any(c.asset_key.path[0] == "raw" for c in extract)


@pytest.mark.parametrize("name", LOCATIONS)
def test_jobs_that_materialize_an_asset_plan_its_checks(name):
    repo = _repo(LOCATIONS[name])
    checks = set(repo.asset_graph.asset_check_keys)
    for job in repo.get_all_jobs():
        if job.name.startswith("__ASSET_JOB"):
            continue
        layer = job.asset_layer
        materialized = set(layer.selected_asset_keys)
        planned = {k for d in layer.data for k in d.assets_def.check_keys}  # checks the job executes
        expected = {c for c in checks if c.asset_key in materialized}
        assert expected <= planned, f"{name}: job {job.name} leaves out {sorted(expected - planned)}"


def test_unknown_domain_is_refused():
    with pytest.raises(ValueError, match="unknown domains"):
        build_definitions(("aimatrix_pipeline.nope.definitions",))
    assert build_definitions(DOMAINS).get_repository_def().asset_graph.asset_check_keys == \
        _repo(defs).asset_graph.asset_check_keys


ANALYTICS = {"analytics/pg_stat_statements_deltas", "analytics/database_health", "analytics/slow_queries_summary",
             "analytics/optimization_recommendations"}


def _selected(d: dg.Definitions, job: str) -> set[str]:
    return {k.to_user_string() for k in _repo(d).get_job(job).asset_layer.selected_asset_keys}


def test_an_extract_job_derives_its_analytics_in_the_run_on_one_location_and_not_across_two():
    """One location: the statistics run derives what its snapshots feed (never the index advice,
    which connects to the source, nor the unpartitioned dashboard). Split: the extract location's
    job keeps its raw assets (the analytics location's automation sensor derives after it), the
    analytics location has no extract job, and the schedule runs the narrowed job."""
    single = _selected(defs, "extract_statistics")
    assert ANALYTICS <= single and "raw/pg_stat_statements" in single
    assert not {"analytics/index_suggestions", "analytics/monitoring_dashboard"} & single
    assert "analytics/error_stats" in _selected(defs, "extract_app_logs")
    assert "analytics/error_stats" not in single
    split = _selected(extract_defs, "extract_statistics")
    assert split == {k for k in single if k.startswith("raw/")}
    assert not _repo(derived_defs).has_job("extract_statistics")
    schedule = _repo(extract_defs).get_schedule_def("snapshot_statistics")
    assert schedule.job_name == "extract_statistics"

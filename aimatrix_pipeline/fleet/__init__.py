"""Fleet concerns: retention/downsampling of raw snapshots, fleet-wide queries, scale-out.

Its assets belong to the `extract` group (retention maintains the raw copies); the asset groups
are fixed (extract/analytics/cost/alerts; tests/test_definitions.py holds every asset to them), so
this package adds no group of its own.
"""

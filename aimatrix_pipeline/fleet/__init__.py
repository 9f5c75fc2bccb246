"""Fleet concerns: retention/downsampling of raw snapshots, fleet-wide queries, scale-out.

Its assets belong to the `extract` group (retention maintains the raw copies); the asset groups
are a contract (extract/analytics/cost/alerts), so this package adds no group of its own.
"""

"""Application signals: API request logs and counts (Management API), project metrics (Prometheus),
and what is derived from them (API latency summary, realtime health, API findings)."""

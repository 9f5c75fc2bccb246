"""The monitoring dashboard: one self-contained HTML page rendered from the warehouse."""

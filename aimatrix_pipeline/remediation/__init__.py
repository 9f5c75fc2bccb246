"""Applying a recommendation's remediation SQL to a monitored database, safely (`aimatrix-pipeline apply`)."""

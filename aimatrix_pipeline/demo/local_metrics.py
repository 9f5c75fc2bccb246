"""A local stand-in for a project's metrics endpoint, for the demo: Prometheus text on 127.0.0.1.

Supabase's `/customer/v1/privileged/metrics` is not available for a local database, so the demo can
run this instead: it answers the same format behind the same basic auth (`service_role:<key>`),
with series computed from the live database at each scrape (postgres_exporter names, so the same
queries work on both). The demo database has no Realtime service; the realtime gauges are
therefore taken from what the database can see — sessions and subscriptions of a `realtime`
schema when one exists, else 0 — and say so in their HELP text.

Wire it into a projects file as `metrics_url: <endpoint.url>` and `service_role_key_env: <VAR>`.
"""

from __future__ import annotations

import base64
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg

from aimatrix_pipeline.sql_files import load_sql

PATH = "/customer/v1/privileged/metrics"


def _fmt(value) -> str:
    return repr(float(value or 0))


def render(dsn: str) -> str:
    """Prometheus text for the database behind `dsn` (one short read-only query)."""
    with psycopg.connect(dsn, autocommit=True, application_name="aimatrix_local_metrics", connect_timeout=5) as conn:
        rows = conn.execute(load_sql("source/api/local_metrics.sql")).fetchall()
    lines: list[str] = []
    seen: set[str] = set()
    for metric, kind, help_text, labels, value in rows:
        if metric not in seen:
            lines.append(f"# HELP {metric} {help_text}")
            lines.append(f"# TYPE {metric} {kind}")
            seen.add(metric)
        label_text = ",".join(
            f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
            for k, v in sorted((labels or {}).items())
        )
        lines.append(f"{metric}{{{label_text}}} {_fmt(value)}" if label_text else f"{metric} {_fmt(value)}")
    lines.extend(host_lines())
    return "\n".join(lines) + "\n"


def host_lines(root: str = "/") -> list[str]:
    """node_exporter series for the machine the demo database runs on (CPU, memory, disk, network),
    read from /proc and statvfs: on a local database the host *is* the project's server. Series a
    platform does not offer (no /proc) are left out, never invented."""
    out: list[str] = []
    try:
        with open("/proc/stat") as f:
            cpu_lines = [line.split() for line in f if line.startswith("cpu") and line[3:4].isdigit()]
        tick = os.sysconf("SC_CLK_TCK")
        modes = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
        out += ["# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.",
                "# TYPE node_cpu_seconds_total counter"]
        for parts in cpu_lines:
            for mode, ticks in zip(modes, parts[1:9]):
                out.append(f'node_cpu_seconds_total{{cpu="{parts[0][3:]}",mode="{mode}"}} {int(ticks) / tick!r}')
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/meminfo") as f:
            mem = {k: int(v.split()[0]) * 1024 for k, v in (line.split(":", 1) for line in f)}
        for key in ("MemTotal", "MemAvailable"):
            out += [f"# HELP node_memory_{key}_bytes Memory information field {key}_bytes.",
                    f"# TYPE node_memory_{key}_bytes gauge", f"node_memory_{key}_bytes {float(mem[key])!r}"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        st = os.statvfs(root)
        labels = f'{{mountpoint="{root}"}}'
        out += ["# HELP node_filesystem_size_bytes Filesystem size in bytes.", "# TYPE node_filesystem_size_bytes gauge",
                f"node_filesystem_size_bytes{labels} {float(st.f_blocks * st.f_frsize)!r}",
                "# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.",
                "# TYPE node_filesystem_avail_bytes gauge",
                f"node_filesystem_avail_bytes{labels} {float(st.f_bavail * st.f_frsize)!r}"]
    except OSError:
        pass
    try:
        with open("/proc/net/dev") as f:
            devs = [(name.strip(), data.split()) for name, data in
                    (line.split(":", 1) for line in f.readlines()[2:] if ":" in line)]
        out += ["# HELP node_network_receive_bytes_total Network device statistic receive_bytes.",
                "# TYPE node_network_receive_bytes_total counter"]
        out += [f'node_network_receive_bytes_total{{device="{d}"}} {float(v[0])!r}' for d, v in devs]
        out += ["# HELP node_network_transmit_bytes_total Network device statistic transmit_bytes.",
                "# TYPE node_network_transmit_bytes_total counter"]
        out += [f'node_network_transmit_bytes_total{{device="{d}"}} {float(v[8])!r}' for d, v in devs]
    except (OSError, ValueError, IndexError):
        pass
    return out


class LocalMetricsEndpoint:
    """`start()` serves on 127.0.0.1 (a free port); `url` is what a projects file's metrics_url takes."""

    def __init__(self, dsn: str, key: str, port: int = 0):
        self._dsn = dsn
        self._key = key
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> LocalMetricsEndpoint:
        endpoint = self
        expected = "Basic " + base64.b64encode(f"service_role:{self._key}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?", 1)[0] != PATH:
                    status, body = 404, "not found\n"
                elif self.headers.get("Authorization") != expected:
                    status, body = 401, "unauthorized\n"
                else:
                    try:
                        status, body = 200, render(endpoint._dsn)
                    except psycopg.Error:
                        status, body = 503, "database unavailable\n"
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self._port), Handler)
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{PATH}"

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

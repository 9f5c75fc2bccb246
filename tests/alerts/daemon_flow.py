"""The unattended alert flow, as deployed: a monitored Postgres, the real `dagster-daemon`, a signed
webhook receiver.

Shared by tests/alerts/test_daemon_e2e.py (does a breached rule notify once and resolve once?) and
benchmarks/bench_alert_latency.py (how long from the condition appearing in the source to the
receiver's 2xx?). Nothing here launches a run: the daemon's schedules and sensors do everything.

* `SignedWebhookReceiver`: an HTTP server on 127.0.0.1 that checks each request's Standard
  Webhooks signature with the project's own `verify` (the documented receiver side), answers 204
  when it holds and 401 when it does not, and records what it accepted with the wall-clock time.
* `ConnectionLoad`: idle sessions held open on the monitored cluster, which is how a test makes
  the shipped `connection_utilisation_high` rule breach and clear on demand (the cluster is the
  test's own, with a small `max_connections`, so nothing else moves the figure).
* `AlertDaemon`: DAGSTER_HOME in a work dir (the repository's dagster.yaml, storage on Postgres),
  `dagster-daemon run -m aimatrix_pipeline.definitions` in its own process group, and a stop that
  ends the daemon, its code servers and their run workers.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psycopg
import yaml

from aimatrix_pipeline.alerts.channels.webhook import verify
from aimatrix_pipeline.demo import database as demo_db
from aimatrix_pipeline.demo.local_postgres import SERVER_SETTINGS, LocalPostgres

ROOT = Path(__file__).resolve().parents[2]
WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
RULE_ID = "connection_utilisation_high"
CHECK = ("raw/database_stats", RULE_ID)  # judged in the statistics run itself
MAX_CONNECTIONS = 30  # 3 reserved for superusers: 27 usable; the rule breaches above 0.8 (> 21.6)
BREACHING_SESSIONS = 24
MONITOR_PASSWORD = "monitor-e2e-password"
# Every variable that could point the code location somewhere else or enable another channel.
_SCRUB = ("DAGSTER_HOME", "DAGSTER_PG_URL", "SUPABASE_DB_URL", "AIMATRIX_PROJECTS_FILE", "AIMATRIX_WAREHOUSE",
          "AIMATRIX_ALERT_RULES", "AIMATRIX_ALERT_STATE", "AIMATRIX_SLACK_WEBHOOK_URL",
          "AIMATRIX_PAGERDUTY_ROUTING_KEY", "AIMATRIX_PAGERDUTY_URL", "AIMATRIX_SMTP_HOST",
          "AIMATRIX_ALERT_WEBHOOK_URL", "AIMATRIX_ALERT_WEBHOOK_SECRET", "AIMATRIX_ALERT_WEBHOOK_SECRET_PREVIOUS")


@dataclass
class Delivery:
    at: float  # time.time() when the request arrived
    webhook_id: str
    body: dict

    def alerts(self, rule_id: str | None = None, action: str | None = None) -> list[dict]:
        return [a for a in self.body.get("alerts", [])
                if (rule_id is None or a.get("rule_id") == rule_id) and (action is None or a.get("action") == action)]


class SignedWebhookReceiver:
    """Accepts (204) only correctly signed, fresh requests; records them in arrival order."""

    def __init__(self, secret: str = WEBHOOK_SECRET):
        self.secret = secret
        self.accepted: list[Delivery] = []
        self.rejected = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                now = time.time()
                try:
                    ok = verify([receiver.secret], self.headers.get("webhook-id", ""),
                                int(self.headers.get("webhook-timestamp", "0")), body,
                                self.headers.get("webhook-signature", ""), now)
                except ValueError:
                    ok = False
                with receiver._lock:
                    if ok:
                        receiver.accepted.append(Delivery(now, self.headers["webhook-id"], json.loads(body)))
                    else:
                        receiver.rejected += 1
                self.send_response(204 if ok else 401)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/aimatrix"

    def deliveries(self, rule_id: str, action: str) -> list[Delivery]:
        """Accepted messages (one per webhook-id: a retried message counts once) with that alert."""
        with self._lock:
            seen, out = set(), []
            for d in self.accepted:
                if d.alerts(rule_id, action) and d.webhook_id not in seen:
                    seen.add(d.webhook_id)
                    out.append(d)
            return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class MonitoredPostgres:
    """The user's database: its own small cluster with the demo schema and the monitoring role."""

    def __init__(self, data_dir: Path, **settings_over: str):
        # Not under pytest's tmp_path: the server runs as a service user when we are root, and a
        # concurrent pytest session resets /tmp/pytest-of-<user> to 0700 (tests/conftest.py's
        # clusters live elsewhere for the same reason).
        settings = dict(SERVER_SETTINGS, max_connections=str(MAX_CONNECTIONS), shared_buffers="16MB",
                        **settings_over)
        self.pg = LocalPostgres(data_dir, settings=settings)

    def start(self) -> MonitoredPostgres:
        self.pg.start()
        owner = self.pg.create_database("app")
        demo_db.install_schema(owner, vectors=False)
        demo_db.create_monitoring_role(owner, MONITOR_PASSWORD)
        self.owner_dsn = owner
        self.monitor_dsn = self.pg.url("app", user=demo_db.MONITOR_ROLE, password=MONITOR_PASSWORD)
        return self

    def client_backends(self) -> int:
        with psycopg.connect(self.owner_dsn, autocommit=True) as conn:
            return conn.execute("select count(*) from pg_stat_activity "
                                "where backend_type = 'client backend'").fetchone()[0]

    def stop(self) -> None:
        self.pg.stop("immediate")
        shutil.rmtree(self.pg.data_dir, ignore_errors=True)


class ConnectionLoad:
    """`n` idle sessions on the monitored database (superuser, so they may use reserved slots)."""

    def __init__(self, dsn: str, n: int = BREACHING_SESSIONS):
        self.conns = [psycopg.connect(dsn, autocommit=True, application_name="e2e-load") for _ in range(n)]

    def close(self) -> None:
        for c in self.conns:
            c.close()
        self.conns = []


def rules_file(path: Path, **settings) -> Path:
    """The shipped alert_rules.yaml, unchanged except for the `settings` given."""
    doc = yaml.safe_load((ROOT / "alert_rules.yaml").read_text())
    doc["settings"].update(settings)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class AlertDaemon:
    """`dagster-daemon run` on the code location, watching one project (single-database mode)."""

    def __init__(self, work: Path, *, dagster_pg_url: str, source_dsn: str, webhook_url: str,
                 rules_path: Path | None = None, env: dict[str, str] | None = None):
        self.work = work
        self.home = work / "dagster_home"
        self.home.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "dagster.yaml", self.home / "dagster.yaml")
        self.log_path = work / "daemon.log"
        base = {k: v for k, v in os.environ.items() if k not in _SCRUB}
        self.env = {
            **base,
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), base.get("PYTHONPATH", "")) if p),
            "DAGSTER_HOME": str(self.home),
            "DAGSTER_PG_URL": dagster_pg_url,
            "SUPABASE_DB_URL": source_dsn,
            "AIMATRIX_WAREHOUSE": str(work / "warehouse.duckdb"),
            "AIMATRIX_ALERT_STATE": str(work / "alerts_outbox.sqlite"),
            "AIMATRIX_ALERT_WEBHOOK_URL": webhook_url,
            "AIMATRIX_ALERT_WEBHOOK_SECRET": WEBHOOK_SECRET,
            **({"AIMATRIX_ALERT_RULES": str(rules_path)} if rules_path else {}),
            **(env or {}),
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> AlertDaemon:
        self._log = open(self.log_path, "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("dagster-daemon")), "run", "-m", "aimatrix_pipeline.definitions"],
            env=self.env, cwd=self.work, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, chars: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> list[int]:
        """SIGTERM to the daemon's process group, then SIGKILL to the group and every descendant
        found before (a run worker may have started its own session). Returns pids still alive."""
        import psutil

        if self.proc is None:
            return []
        try:
            descendants = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.Error:
            descendants = []
        for sig, wait_s in ((signal.SIGTERM, 30), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            for p in descendants:
                try:
                    p.send_signal(sig)
                except psutil.Error:
                    pass
            try:
                self.proc.wait(wait_s)
            except subprocess.TimeoutExpired:
                continue
            _, alive = psutil.wait_procs(descendants, timeout=wait_s)
            if not alive:
                break
        self.proc = None
        self._log.close()
        return [p.pid for p in descendants if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]

    def instance(self):
        """A DagsterInstance on the daemon's storage (for reading runs and check evaluations)."""
        import dagster as dg
        from dagster._core.instance.ref import InstanceRef

        reader = self.work / "reader_home"
        reader.mkdir(exist_ok=True)
        doc = yaml.safe_load((self.home / "dagster.yaml").read_text())
        doc["storage"] = {"postgres": {"postgres_url": self.env["DAGSTER_PG_URL"]}}
        (reader / "dagster.yaml").write_text(yaml.safe_dump(doc))
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(reader)))


def wait_for(predicate, timeout_s: float, what: str, daemon: AlertDaemon, poll_s: float = 2.0):
    """Poll until `predicate()` is truthy; on timeout (or a dead daemon) fail with the daemon's log."""
    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        value = predicate()
        if value:
            # seen with -s (and in a failing test's captured output): where a daemon test's time goes
            print(f"{time.strftime('%H:%M:%S')} {what}: {time.monotonic() - started:.0f} s", flush=True)
            return value
        if not daemon.alive():
            raise AssertionError(f"dagster-daemon exited while waiting for {what}:\n{daemon.log_tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout_s:.0f} s; daemon log tail:\n{daemon.log_tail()}")
        time.sleep(poll_s)

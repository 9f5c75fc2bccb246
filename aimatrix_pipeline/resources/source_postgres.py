"""Connections to a monitored database: read-only, bounded, labelled.

The monitored database is someone's production. Every session we open carries, through libpq's
`options`, `default_transaction_read_only=on`, a `statement_timeout`, a `lock_timeout`, an
`idle_in_transaction_session_timeout` and `application_name=aimatrix_pipeline`, so the guarantees
hold for psycopg and for the ADBC (Arrow, binary COPY) driver alike, whatever the query.

The DSN is read from the environment variable the project names (`dagster.EnvVar`), at run time,
and never appears in logs, metadata or error messages (`redact_dsn`).

Per-source connection cap: every connection holds one of N slots, N being the project's
`max_connections` (default 2), so however many runs the queue starts, no source ever sees more
than N of our sessions at once; a connection that cannot get a slot within `slot_timeout_s`
fails with a clear error instead of piling on. Where the slots live decides how far the cap
reaches:
- on one machine (a DuckDB file warehouse): slot files (`flock`) in a directory next to the
  warehouse, shared by every run, step and process of that host;
- across hosts (a DuckLake warehouse on a PostgreSQL catalog, or `slot_catalog`): PostgreSQL
  advisory locks in the catalog database, which every host already reaches. A slot is a session
  lock held on a catalog connection for as long as the source connection is open; a process that
  dies releases it with its connection, like the file lock.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

import dagster as dg
import psycopg

from aimatrix_pipeline.shared.batch import cancel_on_deadline

APPLICATION_NAME = "aimatrix_pipeline"


class SourceConfigError(RuntimeError):
    """The project's DSN is missing or unusable; the message names the env var, never the DSN."""


class SourceUnavailable(RuntimeError):
    """The monitored database could not be reached or went away mid-query."""


class SourceBusy(SourceUnavailable):
    """All connection slots of this source stayed taken for longer than `slot_timeout_s`."""


DEFAULT_MAX_CONNECTIONS = 2


def _slot_limit_from_settings(db_url_env: str) -> int:
    """The smallest `max_connections` of the projects that use this env var (default 2)."""
    try:
        from aimatrix_pipeline.settings import ConfigError, current_settings

        limits = [p.max_connections for p in current_settings().projects if p.db_url_env == db_url_env]
    except ConfigError:  # a broken projects file is reported elsewhere, not here
        limits = []
    return max(1, min(limits)) if limits else DEFAULT_MAX_CONNECTIONS


@contextmanager
def connection_slot(slot_dir: Path, key: str, slots: int, timeout_s: float) -> Iterator[int]:
    """Hold one of `slots` slot files for `key` (an env var name: never secret) until exit."""
    slot_dir.mkdir(parents=True, exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", key)
    fds = [os.open(slot_dir / f"{safe}.{i}.slot", os.O_RDWR | os.O_CREAT, 0o644) for i in range(slots)]
    held = None
    try:
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while held is None:
            for i, fd in enumerate(fds):
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    held = i
                    break
                except BlockingIOError:
                    continue
            if held is None:
                if time.monotonic() >= deadline:
                    raise _busy(key, slots, timeout_s, "")
                time.sleep(delay)
                delay = min(delay * 2, 0.25)
        yield held
    finally:
        for fd in fds:
            os.close(fd)  # closing releases the lock


SLOT_LOCK_APPLICATION = "aimatrix-source-slots"


def slot_lock_key(key: str) -> int:
    """The first int4 of a slot's two-key advisory lock (the second is the slot number). The
    two-key form never collides with the one-bigint DuckLake commit lock."""
    return zlib.crc32(f"aimatrix-source-slot:{key}".encode()) - 2**31


def _busy(key: str, slots: int, timeout_s: float, where: str) -> SourceBusy:
    return SourceBusy(
        f"all {slots} connection slot(s) for ${key} stayed in use{where} for {timeout_s:.0f}s "
        f"(max_connections={slots} in the projects file); nothing was read, the next run catches up"
    )


@contextmanager
def catalog_connection_slot(conninfo: str, key: str, slots: int, timeout_s: float) -> Iterator[int]:
    """Hold one of `slots` advisory locks for `key` in the PostgreSQL at `conninfo` until exit.

    Every host that reaches that database shares the slots, so the cap holds across machines.
    The catalog conninfo carries no password (libpq reads PGPASSWORD or ~/.pgpass); its error
    text is redacted all the same."""
    try:
        pg = psycopg.connect(conninfo, autocommit=True, application_name=SLOT_LOCK_APPLICATION, connect_timeout=10)
    except psycopg.Error as exc:
        first = (redact_dsn(str(exc), conninfo).strip().splitlines() or [type(exc).__name__])[0]
        raise SourceUnavailable(
            f"cannot reach the PostgreSQL that holds the connection slots of ${key} (the warehouse "
            f"catalog): {first[:300]}"
        ) from None
    lock_key = slot_lock_key(key)
    try:
        deadline = time.monotonic() + timeout_s
        delay = 0.01
        while True:
            for i in range(slots):
                if pg.execute("select pg_try_advisory_lock(%s, %s)", [lock_key, i]).fetchone()[0]:
                    yield i
                    return
            if time.monotonic() >= deadline:
                raise _busy(key, slots, timeout_s, " on every host sharing the catalog")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
    finally:
        pg.close()  # ends the session: releases the lock


def redact_dsn(text: str, dsn: str | None = None) -> str:
    """Remove credentials from anything that may contain a DSN (error messages included).

    Patterns alone are not enough: a password with an unencoded `@`, `:` or `/` makes the
    driver split the DSN in the wrong place, and its "failed to resolve host 'x'" message then
    carries a piece of the password where no pattern expects it. With `dsn`:
    - the DSN itself, wherever the text quotes it, loses its password by position (`masked_dsn`);
    - the password parsed from it, its encoded and decoded forms and every piece of it between
      those characters are masked wherever they appear, when that reveals nothing;
    - when the password cannot be told apart from the rest of the message (it equals or sits in
      the user, host, port or database name, it is a word of the message itself, or a piece of it
      is too short to search for), masking its text would point at it (`user "***"` tells the
      password is the user name): every quoted part of the message and the DSN's user, host, port
      and database are replaced instead, whichever of them held it; and when the password is still
      in what is left (a word of the message itself), the whole message is withheld.
    """
    if dsn:
        text = text.replace(dsn, masked_dsn(dsn))
    text = re.sub(r"(postgres(?:ql)?://)\S*@", r"\1***@", text)
    text = re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)
    if not dsn or not dsn_password(dsn):
        return text
    if _password_stands_apart(text, dsn):
        for secret in dsn_secrets(dsn):
            text = text.replace(secret, "***")
        return text
    text = re.sub(r'"[^"\n]*"', '"***"', text)
    text = re.sub(r"'[^'\n]*'", "'***'", text)
    for part in sorted(_dsn_parts(dsn), key=len, reverse=True):
        text = re.sub(rf"(?<![\w.-]){re.escape(part)}(?![\w.-])", "***", text)
    if any(secret in text for secret in dsn_secrets(dsn)):
        return WITHHELD  # it is one of the message's own words: no part of the text can be shown
    return text


WITHHELD = "(the driver's message is withheld: the password cannot be told apart from its words)"


def masked_dsn(dsn: str) -> str:
    """`dsn` with its password replaced by `***`, found by its position in the DSN (after the
    user's `:` up to the last `@` of a URL; the value of a `password=` keyword), never by search."""
    if "://" in dsn:
        scheme, rest = dsn.split("://", 1)
        userinfo, at, host = rest.rpartition("@")
        if not at or ":" not in userinfo:
            return dsn
        return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
    return re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", dsn, flags=re.IGNORECASE)


def _dsn_parts(dsn: str) -> set[str]:
    """The DSN's user, host, port and database as written (what libpq quotes in its messages)."""
    parts: set[str] = set()
    if "://" in dsn:
        rest = dsn.split("://", 1)[1]
        userinfo, _, hostpart = rest.rpartition("@")
        parts.add(userinfo.split(":", 1)[0])
        netloc, _, path = hostpart.partition("/")
        host, _, port = netloc.rpartition(":") if re.search(r":\d*$", netloc) else (netloc, "", "")
        parts |= {host, port, path.split("?", 1)[0]}
    else:
        for key in ("user", "host", "hostaddr", "port", "dbname"):
            m = re.search(rf"\b{key}\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)
            if m:
                parts.add(m.group(1).strip("'"))
    return {unquote(p) for p in parts if p} | {p for p in parts if p}


def _password_stands_apart(text: str, dsn: str) -> bool:
    """Whether masking the password's text reveals nothing: every form and piece of it is long
    enough to search for, none equals or sits inside the DSN's other parts (or they in it), and
    none is a word of the message outside its quoted parts."""
    password = dsn_password(dsn) or ""
    forms = {password, unquote(password), quote(unquote(password), safe="")}
    pieces = {p for f in forms for p in re.split(r"[@:/?#]", f) if p}
    if any(len(p) < MIN_SECRET_PIECE for p in pieces):
        return False
    others = _dsn_parts(dsn)
    if any(p in o or o in p for p in pieces | forms for o in others):
        return False
    unquoted = re.sub(r'"[^"\n]*"|\'[^\'\n]*\'', " ", text)
    return not any(p in unquoted for p in pieces | forms)


class RedactedError(Exception):
    """Stands in for a driver error whose text may hold a DSN: its type name, masked text, and
    the original traceback (chained as the cause, so a failure still shows where it happened)."""


def redacted(exc: BaseException, dsn: str | None = None) -> RedactedError:
    """A cause to chain instead of `exc`: same traceback, text through `redact_dsn`."""
    text = redact_dsn(str(exc), dsn).strip()
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    return RedactedError(f"{name}: {text}" if text else name).with_traceback(exc.__traceback__)


def dsn_password(dsn: str) -> str | None:
    """The password as written in a DSN (URL or key=value), whatever characters it holds."""
    if "://" in dsn:
        rest = dsn.split("://", 1)[1]
        userinfo, at, _host = rest.rpartition("@")  # the last '@' ends the userinfo
        if not at or ":" not in userinfo:
            return None
        return userinfo.split(":", 1)[1] or None
    m = re.search(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn, flags=re.IGNORECASE)
    if not m:
        return None
    value = m.group(1)
    return (value[1:-1].replace("\\'", "'") if value.startswith("'") else value) or None


MIN_SECRET_PIECE = 3  # shorter pieces would mask ordinary words; they reveal little on their own


def dsn_secrets(dsn: str) -> list[str]:
    """Strings to mask for this DSN, longest first: the password (raw, decoded, encoded) and its
    pieces between '@', ':', '/', '?', '#' (how a misparsed DSN splits it)."""
    password = dsn_password(dsn)
    if not password:
        return []
    forms = {password, unquote(password), quote(unquote(password), safe="")}
    pieces = {p for f in forms for p in re.split(r"[@:/?#]", f) if len(p) >= MIN_SECRET_PIECE}
    return sorted(forms | pieces, key=len, reverse=True)


def unencoded_password_hint(dsn: str, env_name: str) -> str:
    """A hint when the password holds characters that must be percent-encoded in a URL."""
    password = dsn_password(dsn) if "://" in dsn else None
    if password and re.search(r"[@/?#]", password):
        return (f" (the password in ${env_name} contains '@', '/', '?' or '#' without percent-encoding, "
                "so the DSN is split in the wrong place: write them as %40, %2F, %3F, %23)")
    return ""


def bounded_dsn(
    dsn: str,
    *,
    statement_timeout_ms: int,
    lock_timeout_ms: int,
    application_name: str = APPLICATION_NAME,
    connect_timeout_s: int = 10,
) -> str:
    """Add the safety settings to a URL-style DSN as libpq `options` and keywords."""
    if "://" not in dsn:
        raise SourceConfigError("only URL-style DSNs (postgresql://...) are supported")
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    opts = [
        query.pop("options", ""),
        "-c default_transaction_read_only=on",
        f"-c statement_timeout={int(statement_timeout_ms)}",
        f"-c lock_timeout={int(lock_timeout_ms)}",
        "-c idle_in_transaction_session_timeout=60000",
    ]
    query["options"] = " ".join(o for o in opts if o)
    query["application_name"] = application_name
    query.setdefault("connect_timeout", str(connect_timeout_s))
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


class SourcePostgresResource(dg.ConfigurableResource):
    """Opens bounded, read-only sessions to one monitored project's database."""

    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 1_000
    connect_timeout_s: int = 10
    max_connections: int = 0
    """Connections per source at once; 0 = the project's `max_connections` (default 2)."""
    slot_dir: str = ""
    """Where the slot files live; default `<warehouse dir>/source-slots` (AIMATRIX_WAREHOUSE)."""
    slot_catalog: str = ""
    """libpq conninfo of a PostgreSQL whose advisory locks hold the slots, so the cap holds across
    hosts; default: the catalog of a DuckLake warehouse on PostgreSQL (then `slot_dir` is unused),
    otherwise slot files."""
    slot_timeout_s: float = 300.0

    def _slot_catalog(self) -> str | None:
        if self.slot_catalog:
            return self.slot_catalog
        from aimatrix_pipeline.resources.warehouse import warehouse_from_env

        return getattr(warehouse_from_env(), "catalog_conninfo", None)

    def _slot_dir(self) -> Path:
        if self.slot_dir:
            return Path(self.slot_dir).expanduser()
        from aimatrix_pipeline.resources.warehouse import warehouse_from_env

        # beside the warehouse file, or a DuckLake warehouse's local directory (not the catalog string)
        return warehouse_from_env().file.parent / "source-slots"

    def slot(self, db_url_env: str):
        """Context manager holding one connection slot of this source."""
        limit = self.max_connections or _slot_limit_from_settings(db_url_env)
        catalog = self._slot_catalog()
        if catalog:
            return catalog_connection_slot(catalog, db_url_env, limit, self.slot_timeout_s)
        return connection_slot(self._slot_dir(), db_url_env, limit, self.slot_timeout_s)

    def raw_dsn(self, db_url_env: str) -> str | None:
        try:
            return dg.EnvVar(db_url_env).get_value() or None
        except Exception:  # noqa: BLE001 - EnvVar raises different types across versions
            return None

    def connect_failure(self, db_url_env: str, exc: BaseException) -> SourceUnavailable:
        """The driver's connection-failure text, never persisted as is: DSN patterns and the
        parsed password (and its pieces) are masked, first line only."""
        raw = self.raw_dsn(db_url_env) or ""
        lines = redact_dsn(str(exc), raw).strip().splitlines() or [type(exc).__name__]
        return SourceUnavailable(
            f"cannot connect to the database in ${db_url_env}: {lines[0][:300]}"
            + unencoded_password_hint(raw, db_url_env)
        )

    def dsn_for(self, db_url_env: str) -> str:
        dsn = self.raw_dsn(db_url_env)
        if not dsn:
            raise SourceConfigError(
                f"environment variable {db_url_env} is not set: it must hold the monitored "
                "database's DSN (postgresql://user:password@host:port/db)"
            )
        return bounded_dsn(
            dsn,
            statement_timeout_ms=self.statement_timeout_ms,
            lock_timeout_ms=self.lock_timeout_ms,
            connect_timeout_s=self.connect_timeout_s,
        )

    @contextmanager
    def connect(self, db_url_env: str) -> Iterator[psycopg.Connection]:
        """psycopg connection (autocommit off: everything runs in one read-only transaction)."""
        dsn = self.dsn_for(db_url_env)
        with self.slot(db_url_env):
            try:
                conn = psycopg.connect(dsn)
            except psycopg.Error as exc:
                raise self.connect_failure(db_url_env, exc) from redacted(exc, self.raw_dsn(db_url_env))
            try:
                # a batch run cancels the query of a project past its deadline (shared/batch.py)
                with cancel_on_deadline(conn.cancel):
                    yield conn
            finally:
                conn.close()

    @contextmanager
    def connect_adbc(self, db_url_env: str) -> Iterator[object]:
        """ADBC connection: results arrive as Arrow batches over binary COPY."""
        import adbc_driver_postgresql.dbapi as adbc

        dsn = self.dsn_for(db_url_env)
        with self.slot(db_url_env):
            try:
                conn = adbc.connect(dsn)
            except (adbc.Error, OSError) as exc:
                raise self.connect_failure(db_url_env, exc) from redacted(exc, self.raw_dsn(db_url_env))
            try:
                # the time counts towards a batch project's deadline; the cancel, where the driver
                # offers one, ends the running query (statement_timeout bounds it anyway)
                with cancel_on_deadline(getattr(conn, "adbc_cancel", None) or (lambda: None)):
                    yield conn
            finally:
                try:
                    conn.close()
                except (adbc.Error, OSError):  # a dead connection may fail to close
                    pass


def probe_source(dsn: str, env_name: str, connect_timeout_s: int = 10) -> str | None:
    """None when a session as the pipeline opens it works (log in, `select 1`), else the reason
    in one line, with the DSN's credentials masked.

    `watch` and `config check --connect` call this before anything starts: a role that cannot
    log in (e.g. created by sql/demo/06_monitoring_role.sql without a password) must be a clear
    message at once, not failed runs minutes later.
    """
    try:
        bounded = bounded_dsn(dsn, statement_timeout_ms=10_000, lock_timeout_ms=1_000,
                              connect_timeout_s=connect_timeout_s)
    except SourceConfigError as exc:
        return str(exc)
    try:
        with psycopg.connect(bounded, autocommit=True) as conn:
            conn.execute("select 1").fetchall()
    except (psycopg.Error, OSError) as exc:
        text = " ".join(redact_dsn(str(exc), dsn).split()) or type(exc).__name__
        return text[:300] + unencoded_password_hint(dsn, env_name)
    return None

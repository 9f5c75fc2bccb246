"""The commands README.md, docs/getting-started.md and docs/cost.md show, run verbatim.

Why: the documented commands are what a new user types. They broke at the seams (a relative
warehouse path meant another folder inside Dagster's process, a backfill priced nothing, a month
key was a traceback) while every unit test passed. So the commands are taken from the markdown
itself, every shell code block (fenced `bash`/`sh`/`shell`, or unlabelled / indented blocks that
start with a command) and every `sql` block, and run in a fresh folder, in the order the pages give
them, with the exports the README documents (`export AIMATRIX_WAREHOUSE=.aimatrix-demo/...`,
relative as written). A doc change that breaks a command fails here.

What stands in for the user's earlier steps:
* the demo's instance is built first with the demo's documented headless mode
  (`aimatrix-pipeline demo --no-ui`), and its cluster kept running while the commands run (the
  README runs them "in another shell" while the demo runs);
* "your database" of the README's `watch` step is a PostgreSQL database on this machine, in
  SUPABASE_DB_URL (the README's own value is a placeholder for a host on the internet);
* `BROWSER=true`, so `dashboard open` renders the page and "opens" it with a command that does nothing.

A line with an optional part in brackets (`[--format table|csv|json]`) or an ellipsis is a synopsis,
not a command: its command's `--help` must work. `NOT_RUN` lists, with the reason, the few commands
not run here; each entry must still be in the docs, so the list cannot outlive them.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from aimatrix_pipeline.demo.local_postgres import LocalPostgres
from tests.conftest import _base_dir

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/getting-started.md", "docs/cost.md")
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
COMMAND_START = re.compile(r"^(aimatrix-pipeline\b|export\s|[A-Z_][A-Z0-9_]*=|python\b|\$PGBIN/)")
SYNOPSIS = re.compile(r"(^|\s)\[-|…|\bCOMMAND\b")

# Commands not run here (matched on their words, comments left out), and why.
NOT_RUN = {
    'python3.11 -m venv .venv && . .venv/bin/activate && pip install -e .[dev]':
        "installation: the test runs in the installed environment",
    "aimatrix-pipeline demo":
        "a server on the fixed port 3000 until Ctrl-C; its headless mode builds the same instance for the "
        "other commands here, and tests/demo/test_runner.py runs the UI mode on a free port",
    "SUPABASE_DB_URL=postgresql://aimatrix_monitor:<password>@db.<ref>.supabase.co:5432/postgres "
    "aimatrix-pipeline watch":
        "a server until Ctrl-C, on a placeholder host on the internet; tests/test_watch.py runs `watch` on a "
        "local PostgreSQL",
    "python -m pytest": "the whole test suite, which holds this test",
}


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    language: str
    text: str


def code_blocks(doc: str) -> list[Block]:
    """Fenced blocks (with their language) and indented blocks (language '') of a markdown page."""
    lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        fence = re.match(r"^(\s*)(```|~~~)\s*([\w-]*)", lines[i])
        if fence:
            indent, marker, language = fence.groups()
            start, body = i + 1, []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i])
                i += 1
            blocks.append(Block(doc, start, language.lower(), "\n".join(body)))
            i += 1
            continue
        if lines[i].startswith("    ") and lines[i].strip() and (i == 0 or not lines[i - 1].strip()):
            start, body = i + 1, []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            blocks.append(Block(doc, start, "", "\n".join(body).rstrip()))
            continue
        i += 1
    return blocks


def logical_commands(text: str) -> list[str]:
    """The block's commands: a line ending in a backslash, or inside an open quote, continues."""
    commands, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        current = f"{current}\n{line}" if current else line
        if current.endswith("\\"):
            continue
        try:
            shlex.split(current, comments=True)
        except ValueError:  # an open quote: the command goes on
            continue
        commands.append(current)
        current = ""
    assert not current, f"unterminated command: {current!r}"
    return commands


def words(command: str) -> str:
    return " ".join(shlex.split(command.replace("\\\n", " "), comments=True))


def is_shell(block: Block) -> bool:
    if block.language in SHELL_LANGUAGES:
        return True
    if block.language:
        return False
    first = next((c for c in logical_commands(block.text)), "") if block.text.strip() else ""
    return bool(COMMAND_START.match(first))


def shell_blocks() -> list[Block]:
    return [b for doc in DOCS for b in code_blocks(doc) if is_shell(b)]


def documented_exports() -> dict[str, str]:
    """`export NAME=value` lines of the README, as the user's shell has them."""
    exports = {}
    for block in code_blocks("README.md"):
        if is_shell(block):
            for command in logical_commands(block.text):
                parts = shlex.split(command, comments=True)
                if parts[:1] == ["export"]:
                    name, _, value = parts[1].partition("=")
                    exports[name] = value
    return exports


def synopsis_help(command: str) -> list[str]:
    """`aimatrix-pipeline SUB [SUB] --help` for a synopsis line."""
    parts = [p for p in words(command).split() if not re.match(r"^[A-Z_][A-Z0-9_]*=", p)]
    head = []
    for part in parts:
        if part.startswith(("[", "-")) or "…" in part or part.isupper():
            break
        head.append(part)
    assert head and head[0] == "aimatrix-pipeline", f"not a synopsis of ours: {command!r}"
    return [*head, "--help"]


# -- the extraction itself -------------------------------------------------------------------------
def test_the_pages_show_the_commands_this_test_runs():
    commands = [words(c) for b in shell_blocks() for c in logical_commands(b.text)]
    assert len(commands) >= 15
    for expected in ("export AIMATRIX_WAREHOUSE=.aimatrix-demo/warehouse.duckdb",
                     "aimatrix-pipeline backfill --data-dir .aimatrix-demo --month 2026-11"):
        assert expected in commands
    assert any(c.startswith("aimatrix-pipeline dagster -- asset materialize") for c in commands)
    assert any(c.startswith('aimatrix-pipeline sql "select project, round(sum(cost_usd)') or
               c.startswith("aimatrix-pipeline sql select project, round(sum(cost_usd)") for c in commands)
    for listed in NOT_RUN:
        assert listed in commands, f"NOT_RUN lists {listed!r}, which no page shows any more: remove it"
    assert documented_exports() == {"AIMATRIX_WAREHOUSE": ".aimatrix-demo/warehouse.duckdb"}


def test_a_synopsis_gives_its_commands_help():
    assert synopsis_help("aimatrix-pipeline report cost --month 2026-04 [--organization acme]") == [
        "aimatrix-pipeline", "report", "cost", "--help"]
    assert synopsis_help("SUPABASE_DB_URL=postgresql://… aimatrix-pipeline watch [--data-dir .aimatrix]") == [
        "aimatrix-pipeline", "watch", "--help"]


# -- running them ------------------------------------------------------------------------------------
@pytest.fixture
def users_folder(pg18):
    """A fresh folder with the demo's instance built, its cluster running, and "your database"."""
    folder = _base_dir() / f"docs-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    name = f"yours_{uuid.uuid4().hex[:8]}"
    your_db = pg18.create_database(name)
    with psycopg.connect(your_db, autocommit=True) as conn:
        conn.execute("create extension if not exists pg_stat_statements")
        conn.execute("create table orders (id bigint primary key, total numeric)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    demo = subprocess.run(["aimatrix-pipeline", "demo", "--no-ui", "--duration", "5", "--scale", "0.05"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    cluster = LocalPostgres(folder / ".aimatrix-demo" / "pg").start()  # as while the demo runs
    env.update(documented_exports())
    env.update({"SUPABASE_DB_URL": your_db, "BROWSER": "true"})
    try:
        yield folder, env
    finally:
        cluster.stop()
        watch_cluster = LocalPostgres(folder / ".aimatrix" / "pg")
        if watch_cluster.initialised and watch_cluster.is_running():
            watch_cluster.stop()
        pg18.drop_database(name)
        shutil.rmtree(folder, ignore_errors=True)


def _script(block: Block) -> tuple[str, list[list[str]]]:
    """The block as a bash script (commands not run replaced by a no-op), and the synopses' --help."""
    lines, helps = ["set -e -o pipefail"], []
    for command in logical_commands(block.text):
        if words(command) in NOT_RUN:
            lines.append(f": not run: {shlex.quote(words(command)[:60])}")
        elif SYNOPSIS.search(command):
            if not words(command).startswith("["):  # else the synopsis above goes on
                helps.append(synopsis_help(command))
        else:
            lines.append(command)
    return "\n".join(lines) + "\n", helps


@pytest.mark.slow
@pytest.mark.timeout(1800)  # some twenty commands, four of them backfills, each a fresh Python and Dagster
def test_every_documented_command_runs_in_a_fresh_folder(users_folder):
    folder, env = users_folder
    ran = 0
    for block in [b for doc in DOCS for b in code_blocks(doc) if is_shell(b) or b.language == "sql"]:
        where = f"{block.doc}:{block.line}"
        if block.language == "sql":
            for statement in (s.strip() for s in block.text.split(";\n")):
                query = "\n".join(line for line in statement.splitlines() if not line.lstrip().startswith("--"))
                if query.strip():
                    proc = subprocess.run(["aimatrix-pipeline", "sql", query.rstrip(";")], cwd=folder, env=env,
                                          capture_output=True, text=True, timeout=300)
                    assert proc.returncode == 0, f"{where}: {query}\n{proc.stderr[-2000:]}"
                    ran += 1
            continue
        script, helps = _script(block)
        for args in helps:
            proc = subprocess.run(args, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
            assert proc.returncode == 0 and "usage:" in proc.stdout, f"{where}: {args}\n{proc.stderr[-1000:]}"
        started = time.monotonic()
        proc = subprocess.run(["bash", "-x", "-c", script], cwd=folder, env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=1200)
        print(f"{where}: {len(logical_commands(block.text))} command(s) in {time.monotonic() - started:.0f}s")
        traced = [line for line in proc.stderr.splitlines() if line.startswith("+ ")]
        assert proc.returncode == 0, (f"{where}: the block's command failed (exit {proc.returncode}):\n"
                                      f"{traced[-1] if traced else script}\n{proc.stderr[-3000:]}")
        assert "Traceback" not in proc.stderr, f"{where}:\n{proc.stderr[-3000:]}"
        ran += 1

    assert ran >= 10
    # the README's relative export named the one warehouse every process used
    assert (folder / ".aimatrix-demo" / "warehouse.duckdb").exists()
    strays = [p for p in folder.rglob("*.duckdb") if p.parent.name != ".aimatrix-demo"]
    assert strays == [], f"a process read the relative path from another folder: {strays}"
    report = subprocess.run(["aimatrix-pipeline", "report", "cost", "--month", "2026-11", "--format", "csv"],
                            cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    fee = next(line for line in report.stdout.splitlines() if line.startswith("default,plan_fee,"))
    assert ",25.0," in fee and ",known," in fee  # the README's backfill priced the demo's month


@pytest.mark.slow
def test_a_relative_projects_file_means_the_working_directory(pg18):
    """`aimatrix-pipeline dagster` runs Dagster in the instance folder: a relative projects file and
    warehouse must still mean the folder the user ran the command in."""
    folder = _base_dir() / f"relative-{uuid.uuid4().hex[:8]}"
    folder.mkdir(mode=0o755)
    name = f"rel_{uuid.uuid4().hex[:8]}"
    url = pg18.create_database(name)
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("create table orders (id bigint primary key)")
        (folder / "projects.yaml").write_text("projects:\n  - {name: app, db_url_env: APP_DB_URL}\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
        env.update({"AIMATRIX_PROJECTS_FILE": "projects.yaml", "AIMATRIX_WAREHOUSE": "wh/warehouse.duckdb",
                    "APP_DB_URL": url})
        proc = subprocess.run(
            [sys.executable, "-m", "aimatrix_pipeline.cli", "dagster", "--", "asset", "materialize", "-m",
             "aimatrix_pipeline.definitions", "--select", "raw/table_stats", "--partition", "app"],
            cwd=folder, env=env, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert "which does not exist" not in proc.stderr
        assert (folder / "wh" / "warehouse.duckdb").exists()
        assert not (folder / ".aimatrix" / "dagster_home" / "wh").exists()
    finally:
        pg = LocalPostgres(folder / ".aimatrix" / "pg")
        if pg.initialised and pg.is_running():
            pg.stop()
        pg18.drop_database(name)
        shutil.rmtree(folder, ignore_errors=True)

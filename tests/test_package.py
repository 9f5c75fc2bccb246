"""The installed package runs: a built wheel carries the SQL, the alert rules and the price book,
and loads and materializes outside the checkout. Missing SQL is an error, never "nothing to run".

The wheel (tests/installed_package.py) is built from a copy of the sources (the checkout stays clean) and installed into a
fresh venv in a temporary directory; the test then runs Python from that venv with the current
directory elsewhere and no PYTHONPATH, so the checkout is not importable. Dependencies come from
the running interpreter's site-packages through a .pth line (derived from this interpreter, so it
works wherever the suite runs); the venv's own site-packages, holding the wheel, comes first.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import duckdb

from tests.installed_package import clean_env  # the wheel and venv_python fixtures come from conftest

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_carries_sql_alert_rules_price_book_and_dagster_yaml(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    expected_sql = {f"aimatrix_pipeline/sql/{p.relative_to(ROOT / 'sql').as_posix()}"
                    for p in (ROOT / "sql").rglob("*") if p.is_file()}
    assert expected_sql and expected_sql <= names
    assert {"aimatrix_pipeline/alert_rules.yaml", "aimatrix_pipeline/sql/seed/price_book.yaml",
            "aimatrix_pipeline/dagster.yaml", "aimatrix_pipeline/thresholds.yaml",
            "aimatrix_pipeline/sql/warehouse/ddl/" + sorted((ROOT / "sql/warehouse/ddl").glob("*.sql"))[0].name,
            "aimatrix_pipeline/dashboard/template.html"} <= names


INSTALLED_RUN = textwrap.dedent("""
    import json, sys
    import dagster as dg
    import aimatrix_pipeline
    from aimatrix_pipeline import sql_files
    from aimatrix_pipeline.shared import rules
    from aimatrix_pipeline.cost import price_book
    from aimatrix_pipeline.definitions import defs
    from aimatrix_pipeline.locations import derived_defs, extract_defs

    for d in (defs, extract_defs, derived_defs):
        d.get_repository_def().get_all_jobs()
    graph = defs.resolve_asset_graph()
    key = dg.AssetKey(["raw", "table_stats"])
    result = dg.materialize(list(graph.assets_defs), selection=dg.AssetSelection.assets(key),
                            partition_key="default", instance=dg.DagsterInstance.ephemeral(),
                            raise_on_error=False)
    print(json.dumps({
        "package": aimatrix_pipeline.__file__, "sql_dir": str(sql_files.SQL_DIR),
        "rules": str(rules.DEFAULT_RULES_FILE), "price_book": str(price_book.DEFAULT_PRICE_BOOK),
        "success": result.success, "checks": len(list(graph.asset_check_keys)),
    }))
""")


def test_installed_wheel_loads_the_definitions_and_materializes_an_asset(venv_python, source_db18, tmp_path):
    """From the venv, cwd elsewhere: definitions load (single and split) and raw/table_stats
    materializes against a real PostgreSQL, with the DDL and SQL read from the installed package."""
    import json

    work = tmp_path / "elsewhere"
    work.mkdir()
    warehouse = work / "warehouse.duckdb"
    env = clean_env(SUPABASE_DB_URL=source_db18.url, AIMATRIX_WAREHOUSE=str(warehouse))
    proc = subprocess.run([str(venv_python), "-c", INSTALLED_RUN], cwd=work, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    venv = venv_python.parent.parent
    for name in ("package", "sql_dir", "rules", "price_book"):
        assert Path(report[name]).is_relative_to(venv), (name, report[name])
        assert not Path(report[name]).is_relative_to(ROOT), (name, report[name])
    assert report["success"] is True
    assert report["checks"] > 0
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute("select count(*) from raw.table_stats where project = 'default'").fetchone()[0]
    assert rows > 0


def test_the_checkout_is_not_importable_from_the_venv(venv_python, tmp_path):
    """The venv sees the wheel's package, not this checkout (the test above would prove nothing)."""
    proc = subprocess.run([str(venv_python), "-c", "import aimatrix_pipeline; print(aimatrix_pipeline.__file__)"],
                          cwd=tmp_path, env=clean_env(), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert not Path(proc.stdout.strip()).is_relative_to(ROOT)


# -- missing SQL fails loudly ------------------------------------------------------------------
def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**clean_env(), "PYTHONPATH": str(ROOT), **env},
                          capture_output=True, text=True, timeout=120)


def test_an_empty_ddl_folder_is_an_error_not_an_empty_schema(tmp_path):
    sql = tmp_path / "sql"
    (sql / "warehouse" / "ddl").mkdir(parents=True)
    proc = _python(
        "import duckdb\n"
        "from aimatrix_pipeline.resources.warehouse import apply_schema\n"
        "apply_schema(duckdb.connect())\n",
        AIMATRIX_SQL_DIR=str(sql),
    )
    assert proc.returncode != 0
    assert f"SQL folder {sql / 'warehouse' / 'ddl'} has no *.sql files" in proc.stderr


def test_a_missing_sql_folder_is_an_error_naming_it(tmp_path):
    proc = _python("import aimatrix_pipeline.sql_files", AIMATRIX_SQL_DIR=str(tmp_path / "nowhere"))
    assert proc.returncode != 0
    assert f"AIMATRIX_SQL_DIR={tmp_path / 'nowhere'} is not a directory" in proc.stderr
    proc = _python("from aimatrix_pipeline.sql_files import sql_files; sql_files('no/such/folder')")
    assert "SQL folder not found" in proc.stderr and proc.returncode != 0

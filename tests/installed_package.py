"""The package as a user installs it: a wheel built from a copy of the sources (the checkout stays
clean), installed into a fresh venv in a temporary directory. Session fixtures, so the suite builds
and installs it once (tests/test_package.py and tests/fleet/test_two_locations_e2e.py both use it).

Dependencies come from the running interpreter's site-packages through a .pth line (derived from
this interpreter, so it works wherever the suite runs); the venv's own site-packages, holding the
wheel, comes first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "alert_rules.yaml", "thresholds.yaml",
           "dagster.yaml", "sql", "aimatrix_pipeline")


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(path, src / name)
    dist = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (whl,) = dist.glob("aimatrix_pipeline-*.whl")
    return whl


@pytest.fixture(scope="session")
def venv_python(wheel, tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                           str(wheel)], capture_output=True, text=True, timeout=300, cwd=venv, env=clean_env())
    assert proc.returncode == 0 and "Successfully installed" in proc.stdout, proc.stdout + proc.stderr[-3000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "zz_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_"))}
    return {**env, **extra}

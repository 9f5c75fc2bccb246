"""Build hook: ship the repository's top-level `sql/`, `alert_rules.yaml`, `thresholds.yaml` and `dagster.yaml` in the package.

They stay at the top of the repository (a DBA reads `sql/` without knowing Python); a wheel must
still carry them, so `build_py` copies them into `aimatrix_pipeline/` of the build. Editable
installs read them from the checkout instead (aimatrix_pipeline.sql_files.shipped_path).
Everything else is declared in pyproject.toml.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
SHIPPED = ("sql", "alert_rules.yaml", "thresholds.yaml", "dagster.yaml")


class build_py_with_data(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "aimatrix_pipeline"
        for name in SHIPPED:
            source = ROOT / name
            if source.is_dir():
                if not any(source.rglob("*.sql")):
                    raise SystemExit(f"{source} holds no SQL files: refusing to build a wheel without them")
                shutil.rmtree(target / name, ignore_errors=True)
                shutil.copytree(source, target / name)
            elif source.is_file():
                shutil.copyfile(source, target / name)
            else:
                raise SystemExit(f"{source} is missing: refusing to build a wheel without it")


setup(cmdclass={"build_py": build_py_with_data})

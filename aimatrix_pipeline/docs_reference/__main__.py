"""`python -m aimatrix_pipeline.docs_reference [--check]`: write or check docs/reference/*.md."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

KEEP = {"AIMATRIX_SQL_DIR"}


def _clean_environment() -> None:
    """The reference pages describe the defaults, not this shell's deployment."""
    for name in list(os.environ):
        if name.startswith(("AIMATRIX_", "SUPABASE_", "DAGSTER_")) and name not in KEEP:
            del os.environ[name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aimatrix_pipeline.docs_reference",
                                     description="Write (or --check) the generated pages in docs/reference/.")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a page is out of date")
    parser.add_argument("--dir", help="folder of the pages (default: docs/reference of this checkout)")
    parser.add_argument("pages", nargs="*", help="page file names (default: all)")
    args = parser.parse_args(argv)
    _clean_environment()
    from aimatrix_pipeline.docs_reference import PAGES, REFERENCE_DIR, render

    unknown = [p for p in args.pages if p not in PAGES]
    if unknown:
        parser.error(f"unknown page(s) {unknown}; known: {sorted(PAGES)}")
    folder = Path(args.dir) if args.dir else REFERENCE_DIR
    stale = []
    for page in args.pages or PAGES:
        text = render(page)
        path = folder / page
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(page)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path}")
    if stale:
        print("out of date: " + ", ".join(str(folder / p) for p in stale)
              + " (run: python -m aimatrix_pipeline.docs_reference)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

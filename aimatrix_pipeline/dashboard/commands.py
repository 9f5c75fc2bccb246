"""`aimatrix-pipeline dashboard build|open|serve|export`.

Exit codes: 0 done; 1 the warehouse could not be read (locked past the timeout, query error);
2 usage or configuration error (no warehouse yet, unknown data set).
"""

from __future__ import annotations

import sys
import threading
import time
import webbrowser
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _run(fn):
    """Map warehouse problems to exit codes with one clear line on stderr."""
    import duckdb

    from aimatrix_pipeline.resources.warehouse import WarehouseLockTimeout

    try:
        return fn()
    except FileNotFoundError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except (WarehouseLockTimeout, duckdb.Error) as exc:
        _err(f"error: could not read the warehouse: {exc}")
        return EXIT_FAILED


def _build(args):
    from aimatrix_pipeline.dashboard.build import build
    from aimatrix_pipeline.resources.warehouse import warehouse_from_env

    wh = warehouse_from_env()
    _err(f"reading {wh.file} ...")
    started = time.monotonic()
    result = build(wh, Path(args.out).resolve() if getattr(args, "out", None) else None)
    _err(f"wrote {result.html} ({result.data.row_count()} rows in {len(result.data.datasets)} data sets, "
         f"{time.monotonic() - started:.1f}s)")
    return result


def cmd_build(args) -> int:
    def go():
        result = _build(args)
        print(result.html)
        return EXIT_OK
    return _run(go)


def cmd_open(args) -> int:
    def go():
        result = _build(args)
        url = result.html.as_uri()
        print(url)
        if not webbrowser.open(url):
            _err("no browser found here: open the file above, or use `aimatrix-pipeline dashboard serve`")
        return EXIT_OK
    return _run(go)


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def cmd_serve(args) -> int:
    def go():
        result = _build(args)
        folder = result.html.parent
        lock = threading.Lock()
        state = {"built": time.monotonic()}

        class Handler(_Handler):
            def do_GET(self):
                if self.path.split("?", 1)[0] in ("/", "/index.html") and args.refresh > 0:
                    with lock:
                        if time.monotonic() - state["built"] >= args.refresh:
                            try:
                                _build(args)
                            except Exception as exc:  # noqa: BLE001 - keep serving the last page
                                _err(f"rebuild failed, serving the previous page: {exc}")
                            state["built"] = time.monotonic()
                super().do_GET()

        server = ThreadingHTTPServer(("127.0.0.1", args.port), partial(Handler, directory=str(folder)))
        port = server.server_address[1]
        print(f"serving the dashboard on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
        if args.open:
            webbrowser.open(f"http://127.0.0.1:{port}/")
        try:
            server.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            server.server_close()
        return EXIT_OK
    return _run(go)


def cmd_export(args) -> int:
    def go():
        from aimatrix_pipeline.dashboard import data as dd
        from aimatrix_pipeline.resources.warehouse import warehouse_from_env

        wh = warehouse_from_env()
        with wh.reader() as conn:
            data = dd.collect(conn, str(wh.file))
        if args.dataset:
            unknown = sorted(set(args.dataset) - set(data.datasets))
            if unknown:
                _err(f"error: unknown data set(s) {', '.join(unknown)}; known: {', '.join(data.datasets)}")
                return EXIT_USAGE
            data.datasets = {k: v for k, v in data.datasets.items() if k in args.dataset}
        if args.format == "json":
            if args.output in (None, "-"):
                import json
                json.dump(data.to_json_obj(), sys.stdout, indent=1)
                sys.stdout.write("\n")
            else:
                _err(f"wrote {dd.write_json(data, Path(args.output))}")
            return EXIT_OK
        if args.output in (None, "-"):
            if len(data.datasets) != 1:
                _err("error: CSV to standard output needs exactly one --dataset; or give --output DIR|FILE.zip")
                return EXIT_USAGE
            sys.stdout.write(dd.csv_text(next(iter(data.datasets.values()))))
            return EXIT_OK
        for path in dd.write_csv(data, Path(args.output)):
            _err(f"wrote {path}")
        return EXIT_OK
    return _run(go)


def register(subparsers) -> None:
    from aimatrix_pipeline.dashboard.data import dataset_names

    p = subparsers.add_parser(
        "dashboard",
        help="build, open, serve or export the HTML monitoring dashboard",
        description="The monitoring dashboard: one self-contained HTML page (no network needed to "
        "view it) rendered from the warehouse ($AIMATRIX_WAREHOUSE), written to "
        "<warehouse dir>/dashboard/index.html (or $AIMATRIX_DASHBOARD_DIR). Exit codes: 0 ok, "
        "1 the warehouse could not be read, 2 no warehouse yet or bad arguments.",
    )
    sub = p.add_subparsers(dest="dashboard_command", metavar="ACTION", required=True)

    q = sub.add_parser("build", help="render index.html and data.json; prints the page's path")
    q.add_argument("--out", metavar="DIR", help="write into DIR instead of next to the warehouse")
    q.set_defaults(func=cmd_build)

    q = sub.add_parser("open", help="build, then open the page in the default browser")
    q.add_argument("--out", metavar="DIR", help="write into DIR instead of next to the warehouse")
    q.set_defaults(func=cmd_open)

    q = sub.add_parser("serve", help="build, then serve the page on 127.0.0.1 (rebuilt on reload)",
                       description="Serve the dashboard on 127.0.0.1 only. A reload rebuilds the page "
                       "when the last build is older than --refresh seconds. Ctrl-C stops (exit 0).")
    q.add_argument("--port", type=int, default=8050, help="port on 127.0.0.1 (0 = any free port; default 8050)")
    q.add_argument("--refresh", type=float, default=60.0, help="rebuild on reload after N seconds (0 = never)")
    q.add_argument("--open", action="store_true", help="also open it in the default browser")
    q.add_argument("--out", metavar="DIR", help="write into DIR instead of next to the warehouse")
    q.set_defaults(func=cmd_serve)

    names = ", ".join(dataset_names())
    q = sub.add_parser("export", help="export the dashboard's data as JSON or CSV",
                       description=f"Export the data sets the dashboard draws ({names}). JSON: one "
                       "document {generated_at, warehouse, datasets: {name: {columns, rows}}}. CSV: one "
                       "file per data set in --output DIR, a .zip of them, or one --dataset to stdout. "
                       "Rows with project '*' are fleet totals.")
    q.add_argument("--format", choices=("json", "csv"), default="json")
    q.add_argument("--output", "-o", metavar="PATH", help="file (json), folder or .zip (csv); default stdout")
    q.add_argument("--dataset", action="append", metavar="NAME", help="only this data set (repeatable)")
    q.set_defaults(func=cmd_export)

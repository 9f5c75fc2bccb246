"""DuckLake for real: the catalog on the embedded PostgreSQL 18, the data files on a local directory
or on an S3-compatible server (moto, in server mode) started on 127.0.0.1 by the tests.

`lake` is parametrised over both data locations; `lake_env` is the environment a subprocess (a
writer process, the CLI) needs to select the same warehouse through `AIMATRIX_WAREHOUSE`.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from aimatrix_pipeline.demo.local_postgres import free_port
from aimatrix_pipeline.resources.ducklake_warehouse import (
    DuckLakeWarehouseResource,
    close_sessions,
    warehouse_for,
)

_counter = itertools.count()
S3_KEYS = {"AWS_ACCESS_KEY_ID": "aimatrix-test", "AWS_SECRET_ACCESS_KEY": "aimatrix-test-secret",
           "AWS_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_server():
    """A moto S3 server on 127.0.0.1 (nothing leaves loopback); yields its host:port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop()


def s3_client(endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=f"http://{endpoint}", region_name=S3_KEYS["AWS_REGION"],
                        aws_access_key_id=S3_KEYS["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=S3_KEYS["AWS_SECRET_ACCESS_KEY"])


class Lake:
    """One fresh DuckLake warehouse: a new catalog database and a new data location."""

    def __init__(self, pg, kind: str, tmp_path, s3_endpoint: str | None) -> None:
        self.pg, self.kind = pg, kind
        self.catalog_db = f"lake_{os.getpid()}_{next(_counter)}"
        pg.create_database(self.catalog_db)
        self.spec = f"ducklake:postgres:host=127.0.0.1 port={pg.port} dbname={self.catalog_db} user=postgres"
        self.env = {"AIMATRIX_WAREHOUSE": self.spec, "AIMATRIX_WAREHOUSE_LOCAL_PATH": str(tmp_path / "lake-local")}
        self.bucket = None
        if kind == "s3":
            self.bucket = self.catalog_db.replace("_", "-")
            s3_client(s3_endpoint).create_bucket(Bucket=self.bucket)
            self.env.update(S3_KEYS, AIMATRIX_WAREHOUSE_DATA_PATH=f"s3://{self.bucket}/data/",
                            AIMATRIX_S3_ENDPOINT=s3_endpoint, AIMATRIX_S3_URL_STYLE="path",
                            AIMATRIX_S3_USE_SSL="false")
        else:
            self.env["AIMATRIX_WAREHOUSE_DATA_PATH"] = str(tmp_path / "lake-data")
        self.s3_endpoint = s3_endpoint

    def resource(self) -> DuckLakeWarehouseResource:
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        try:
            res = warehouse_for(self.spec)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return res.model_copy(update={"lock_timeout_s": 120.0})

    def data_files(self) -> list[str]:
        """The Parquet files DuckLake wrote, wherever the data lives."""
        if self.kind == "s3":
            listing = s3_client(self.s3_endpoint).list_objects_v2(Bucket=self.bucket)
            return sorted(o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(".parquet"))
        root = self.env["AIMATRIX_WAREHOUSE_DATA_PATH"]
        return sorted(str(p) for p in Path(root).rglob("*.parquet"))

    def drop(self) -> None:
        close_sessions()  # this process's attached session of the catalog
        self.pg.drop_database(self.catalog_db)


@pytest.fixture(params=["dir", "s3"])
def lake(request, pg18, tmp_path, monkeypatch):
    """A fresh DuckLake warehouse with its data on a shared directory, then on S3; the S3 keys are
    in this process's environment (where the resource reads them) for the test's duration."""
    endpoint = request.getfixturevalue("s3_server") if request.param == "s3" else None
    lk = Lake(pg18, request.param, tmp_path, endpoint)
    for k, v in lk.env.items():
        if k.startswith("AWS_"):
            monkeypatch.setenv(k, v)
    yield lk
    lk.drop()

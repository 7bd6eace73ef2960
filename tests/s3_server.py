"""moto's S3 server in-process on a free loopback port, and the Airflow ``aws`` connection to it."""

from __future__ import annotations

import json
import socket
from typing import Any

ACCESS_KEY = "AKIAEXPORTTESTS00001"
SECRET_KEY = "s3-test-secret-9d2f61c0"
REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class S3Server:
    """``moto.server.ThreadedMotoServer`` on 127.0.0.1; a context manager giving its endpoint URL."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    def __enter__(self) -> S3Server:
        import logging

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request
        self._server.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.stop()

    def connection_json(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> str:
        """An ``aws`` connection as AIRFLOW_CONN_... takes it: the key pair as login/password."""
        extra = {"endpoint_url": self.url, "region_name": REGION}
        return json.dumps({"conn_type": "aws", "login": access_key, "password": secret_key, "extra": extra})

    def client(self) -> Any:
        """A boto3 S3 client on the server, to make buckets and read what an export wrote."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def require_signed_requests(self, on: bool) -> None:
        """Have moto check every request's credentials against its IAM users (off: any key works)."""
        import requests

        # The number of requests served before checks begin; "inf" (moto's default) never checks.
        reply = requests.post(f"{self.url}/moto-api/reset-auth", data="0" if on else "inf", timeout=10)
        reply.raise_for_status()


def keys(client: Any, bucket: str) -> list[str]:
    """Every object's key in ``bucket``, sorted."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return sorted(item["Key"] for page in pages for item in page.get("Contents", []))


def read(client: Any, bucket: str, key: str) -> str:
    return client.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


def pending_uploads(client: Any, bucket: str) -> list[str]:
    """Keys of multipart uploads started and neither completed nor aborted."""
    return sorted(upload["Key"] for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

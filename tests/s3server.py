"""A real S3-compatible server on a free loopback port (moto's ThreadedMotoServer) for the tests
of stores behind ``s3://`` URLs, and the fsspec settings that point s3fs at it.

Skipped where moto or s3fs is not installed (both are in the ``test`` extra).
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def s3_server() -> Iterator[dict[str, Any]]:
    """Start the server, create a bucket of a new name (moto keeps one state per process), point
    fsspec's ``s3`` settings at it (in this process; ``env`` holds the same as ``FSSPEC_S3`` for
    other processes) and yield those settings."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    import fsspec.config

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log on stderr
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    bucket = f"dq-test-{uuid.uuid4().hex[:8]}"
    options = {
        "endpoint_url": f"http://{host}:{port}",
        "key": "testing",
        "secret": "testing",
    }
    saved = fsspec.config.conf.get("s3")
    fsspec.config.conf["s3"] = dict(options)
    try:
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        s3fs.S3FileSystem(**options).mkdir(bucket)
        yield {"options": options, "bucket": bucket, "env": {"FSSPEC_S3": json.dumps(options)}}
    finally:
        if saved is None:
            fsspec.config.conf.pop("s3", None)
        else:
            fsspec.config.conf["s3"] = saved
        import s3fs

        s3fs.S3FileSystem.clear_instance_cache()
        with contextlib.suppress(OSError):  # forget the buckets: the state outlives the server
            urllib.request.urlopen(
                urllib.request.Request(f"{options['endpoint_url']}/moto-api/reset", method="POST"), timeout=10
            ).close()
        server.stop()

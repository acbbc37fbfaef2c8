"""An S3 endpoint on 127.0.0.1 for tests (moto's server, in a thread of the test process), and helpers
to put a local folder there. The build reaches it through the standard AWS environment variables
(sera_rectify.storage reads AWS_ENDPOINT_URL)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs

BUCKET = "sera-test"


def s3_environment(endpoint: str) -> dict[str, str]:
    """The variables a process (dbt, a Ray worker) needs to use the test endpoint."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


@contextmanager
def local_s3(bucket: str = BUCKET) -> Iterator[str]:
    """A moto S3 server listening on 127.0.0.1 (a free port) holding an empty `bucket`, with this
    process's environment pointing at it; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    before = {name: os.environ.get(name) for name in s3_environment(endpoint)}
    os.environ.update(s3_environment(endpoint))
    try:
        s3_client(endpoint).create_dir(bucket)
        yield endpoint
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


def s3_client(endpoint: str) -> pafs.S3FileSystem:
    """A pyarrow S3 file system on the test endpoint (independent of sera_rectify.storage)."""
    host = endpoint.split("://", 1)[1]
    return pafs.S3FileSystem(
        access_key="testing", secret_key="testing", region="us-east-1", endpoint_override=host, scheme="http",
        allow_bucket_creation=True,
    )


def upload_folder(endpoint: str, folder: Path, uri: str) -> None:
    """Copy a local folder's files (symlinks followed) under s3://bucket/prefix."""
    client = s3_client(endpoint)
    prefix = uri.removeprefix("s3://").rstrip("/")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with client.open_output_stream(f"{prefix}/{path.relative_to(folder).as_posix()}") as out:
                out.write(path.read_bytes())

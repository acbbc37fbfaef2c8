"""An S3 endpoint on 127.0.0.1 for tests (moto's server, in a thread of the test process), helpers to
put a local folder there, and a way to make it refuse writes. The build reaches it through the standard
AWS environment variables (sera_rectify.storage reads AWS_ENDPOINT_URL)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs
import pytest

BUCKET = "sera-test"
# what writing an object is, as moto's IAM checks name it: one action per S3 operation (on AWS every one
# of them is authorised as s3:PutObject)
WRITE_ACTIONS = ("s3:PutObject", "s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload", "s3:CopyObject")


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
    try:
        with environment(s3_environment(endpoint)):
            s3_client(endpoint).create_dir(bucket)
            yield endpoint
    finally:
        server.stop()


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """This process's environment with `values` set for the block, as it was afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in values.items():
            patch.setenv(name, value)
        yield


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
            with client.open_output_stream(f"{prefix}/{path.relative_to(folder).as_posix()}", compression=None) as out:
                out.write(path.read_bytes())


@contextmanager
def refusing_writes(endpoint: str, resource: str) -> Iterator[None]:
    """The server refuses (403 AccessDenied) every write to `resource` ("bucket/key", '*' matches any
    characters): this process's AWS credentials become those of a new IAM user allowed everything but
    WRITE_ACTIONS there, and moto checks IAM policies until the block ends, so requests signed with other
    credentials (s3_client's) are refused too until then. A client that keeps the credentials it was built
    with (a pyarrow S3FileSystem) must be built again inside the block to act as that user."""
    import boto3
    from moto.core.authorization import enable_iam_authentication

    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    user = f"refused-{uuid.uuid4().hex[:12]}"
    iam.create_user(UserName=user)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
            {"Effect": "Deny", "Action": list(WRITE_ACTIONS), "Resource": f"arn:aws:s3:::{resource}"},
        ],
    }
    iam.put_user_policy(UserName=user, PolicyName="refuse-writes", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    with environment({"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}):
        with enable_iam_authentication():
            yield

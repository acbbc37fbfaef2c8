"""Where the build's files live: local paths, or object storage URIs (`s3://bucket/key`, issue 16).

A path with a scheme (`s3://...`, or any URI pyarrow's file systems know) is read and written through
pyarrow's file system for it; a plain path stays on the local file system and keeps the fast built-in
file calls. S3 is pyarrow's own S3FileSystem (not s3fs: its aiobotocore pins a botocore range that
conflicts with boto3's), configured from the standard AWS environment: credentials and region as the
AWS SDK reads them, and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL for an S3-compatible endpoint (MinIO,
a local test server), which pyarrow itself does not read.
"""

from __future__ import annotations

import functools
import os
import posixpath
from urllib.parse import urlparse

import pyarrow.fs as pafs

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def is_remote(path: str) -> bool:
    """A URI with a scheme other than file:// (object storage); plain paths and file:// are local."""
    scheme = urlparse(path).scheme
    return len(scheme) > 1 and scheme != "file"


def join(base: str, *names: str) -> str:
    """base/name/...: '/'-joined for a URI, os.path-joined for a local path."""
    return posixpath.join(base, *names) if is_remote(base) else os.path.join(base, *names)


def endpoint_override() -> tuple[str | None, str | None]:
    """(host:port, scheme) of the S3 endpoint named in the environment, or (None, None) for AWS itself."""
    for variable in ENDPOINT_VARIABLES:
        url = os.environ.get(variable)
        if url:
            parsed = urlparse(url if "://" in url else "https://" + url)
            return parsed.netloc, parsed.scheme
    return None, None


@functools.cache
def s3_filesystem(endpoint: str | None, scheme: str | None) -> pafs.S3FileSystem:
    """pyarrow's S3 file system for an endpoint (None: AWS), one per process."""
    return pafs.S3FileSystem(endpoint_override=endpoint, scheme=scheme, region=os.environ.get("AWS_REGION") or None)


def filesystem_of(path: str) -> tuple[pafs.FileSystem, str]:
    """The pyarrow file system holding `path`, and the path within it (bucket/key for S3)."""
    if not is_remote(path):
        return pafs.LocalFileSystem(), os.path.abspath(path.removeprefix("file://"))
    if urlparse(path).scheme in ("s3", "s3a"):
        parsed = urlparse(path)
        return s3_filesystem(*endpoint_override()), parsed.netloc + parsed.path.rstrip("/")
    return pafs.FileSystem.from_uri(path)


def uri_of(path: str, inner: str) -> str:
    """The URI (or local path) of `inner`, a path within the file system that holds `path`."""
    if not is_remote(path):
        return inner
    return f"{urlparse(path).scheme}://{inner}"

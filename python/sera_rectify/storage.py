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
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import fsspec
import fsspec.implementations.arrow as fsspec_arrow
import pyarrow as pa
import pyarrow.fs as pafs
from fsspec.spec import AbstractFileSystem

if TYPE_CHECKING:
    import duckdb

ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")


def is_remote(path: str) -> bool:
    """A URI with a scheme other than file:// (object storage); plain paths and file:// are local."""
    scheme = urlparse(path).scheme
    return len(scheme) > 1 and scheme != "file"


def join(base: str, *names: str) -> str:
    """base/name/...: '/'-joined for a URI, os.path-joined for a local path."""
    return posixpath.join(base, *names) if is_remote(base) else os.path.join(base, *names)


def sibling(path: str, name: str) -> str:
    """The path of `name` in the folder of `path` (a URI's '//' kept, which pathlib would collapse)."""
    if is_remote(path):
        return posixpath.join(posixpath.dirname(path), name)
    return str(Path(path).with_name(name))


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
        # `s3://b/sera/` + "/ds" (a var with a trailing slash) means s3://b/sera/ds, as it would on disk
        return s3_filesystem(*endpoint_override()), parsed.netloc + re.sub("/+", "/", parsed.path).rstrip("/")
    return pafs.FileSystem.from_uri(path)


def uri_of(path: str, inner: str) -> str:
    """The URI (or local path) of `inner`, a path within the file system that holds `path`."""
    if not is_remote(path):
        return inner
    return f"{urlparse(path).scheme}://{inner}"


def exists(path: str) -> bool:
    """Whether a file is at `path` (local or on object storage)."""
    filesystem, inner = filesystem_of(path)
    return filesystem.get_file_info(inner).type == pafs.FileType.File


def size_of(path: str) -> int:
    """The size in bytes of the file at `path` (local or on object storage)."""
    filesystem, inner = filesystem_of(path)
    info = filesystem.get_file_info(inner)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"no file at {path}")
    return info.size


def write_bytes(path: str, data: bytes) -> None:
    """Write `data` as the whole file at `path`: a local file, or one object (meant for a temporary key of
    atomic.atomic_file: a failed write there is removed, the target is never written in place)."""
    filesystem, inner = filesystem_of(path)
    stream = filesystem.open_output_stream(inner, compression=None)  # bytes as given, whatever the name ends with
    try:
        stream.write(data)
    finally:
        stream.close()


class S3ForDuckDB(fsspec_arrow.ArrowFSWrapper):
    """s3:// (and s3a://) for DuckDB, as an fsspec file system: pyarrow's S3 file system of this module
    (same endpoint and credentials as the build's own reads and writes), wrapped by fsspec's ArrowFSWrapper.
    DuckDB 2.0.1's httpfs extension cannot be installed offline, so DuckDB reaches object storage through
    this (connection.register_filesystem; dbt-duckdb does it from the profile's `filesystems: [{fs: sera_s3}]`).

    Registered with fsspec as `sera_s3` (pyproject's fsspec.specs entry point), not `s3`: an entry point
    replaces a known name, and `s3` is s3fs's for every other fsspec user (pandas, datasets).
    Built without arguments, and lazily: constructing a pyarrow S3FileSystem initialises the AWS SDK and
    probes the EC2 metadata endpoint (~0.1 s here, more where 169.254.169.254 drops packets), a cost every
    dbt connection would pay even when no path is on S3. So pyarrow's file system is only looked up (from
    the environment, like filesystem_of) when DuckDB first touches an s3:// path.
    """

    protocol = ("s3", "s3a")
    root_marker = ""  # S3 paths are bucket/key, with no leading '/'

    def __init__(self, **storage_options: Any) -> None:
        # not ArrowFSWrapper.__init__: it wants a built pyarrow file system, and keeps its version in a
        # module global that its _open reads
        AbstractFileSystem.__init__(self, **storage_options)
        fsspec_arrow.PYARROW_VERSION = fsspec_arrow.PYARROW_VERSION or pa.__version__

    @property
    def fs(self) -> pafs.S3FileSystem:
        return s3_filesystem(*endpoint_override())


FSSPEC_NAME = "sera_s3"


def register_filesystems(connection: duckdb.DuckDBPyConnection) -> None:
    """Let a DuckDB connection read and write s3:// paths (views over converted parts on S3), for clients
    that open DuckDB themselves rather than through dbt's profile. A connection that already has it (the
    registration is per database instance, and DuckDB refuses a second one) is left as it is."""
    if "s3" not in connection.list_filesystems():
        connection.register_filesystem(fsspec.filesystem(FSSPEC_NAME))

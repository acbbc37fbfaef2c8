"""Files and folders that appear only complete (spec/output.md: "the file appears only complete").

Every output of the build (the exports, the card, the conversion's folder of parts) is written under a
temporary name beside its target and published at the end, so the target only ever holds a complete
file: the previous good one or the new one. A killed build leaves a temporary name, which the next
write to the same target removes.

Locally, publishing is a rename (os.replace). Object storage has no rename: a file there is written to a
temporary key beside the target, then copied onto the target by the store itself (S3 CopyObject, which
makes the target appear whole or not at all) and the temporary key deleted. S3 copies at most 5 GB
(5,368,709,120 bytes) in one CopyObject on AWS: a bigger file fails at that copy, with the old target
intact and an error that says so (docs/storage.md).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow.fs as pafs

from . import storage

TEMP_MARKER = ".tmp-"
COPY_LIMIT_BYTES = 5 * 1024**3  # AWS S3's largest object one CopyObject copies


class PublishError(OSError):
    """The object store did not copy a finished temporary object onto its target (the target is unchanged)."""


def remove_stale_temp_files(target: Path) -> None:
    """Temporary files or folders of an earlier, interrupted write (the target itself is never touched)."""
    for stale in target.parent.glob(target.name + TEMP_MARKER + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_file(target: str | Path) -> Iterator[str | Path]:
    """A temporary path beside `target` to write to (a Path for a local target, a URI for one on object
    storage), published onto target when the block succeeds and removed when it fails, so target only
    ever holds a complete file (the old one or the new one)."""
    if storage.is_remote(str(target)):
        with atomic_object(str(target)) as temporary:
            yield temporary
        return
    local = Path(target)
    local.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(local)
    temporary = local.with_name(local.name + TEMP_MARKER + str(os.getpid()))
    try:
        yield temporary
        os.replace(temporary, local)
    finally:
        temporary.unlink(missing_ok=True)


@contextmanager
def atomic_object(target: str) -> Iterator[str]:
    """atomic_file for a URI: the block writes the temporary key it is given (target + TEMP_MARKER + pid);
    on success the store copies it onto target (server-side, so target changes in one step), and the
    temporary key is deleted whether the block succeeds or fails. Nothing writes to target's key but that
    copy, so a failed or interrupted write never leaves a partial target."""
    filesystem, inner = storage.filesystem_of(target)
    remove_stale_temp_objects(filesystem, inner)
    temporary = inner + TEMP_MARKER + str(os.getpid())
    try:
        yield storage.uri_of(target, temporary)
        publish(filesystem, temporary, inner, target)
    finally:
        # a refused delete must not hide the write's own error, nor fail a publish that succeeded: the
        # next write to this target removes the stale key (remove_stale_temp_objects)
        with contextlib.suppress(OSError):
            filesystem.delete_file(temporary)


def remove_stale_temp_objects(filesystem: pafs.FileSystem, inner: str) -> None:
    """Temporary keys of an earlier, interrupted write to the object `inner` (bucket/key)."""
    prefix = inner + TEMP_MARKER
    listing = filesystem.get_file_info(pafs.FileSelector(posixpath.dirname(inner), allow_not_found=True))
    for info in listing:
        if info.type == pafs.FileType.File and info.path.startswith(prefix):
            with contextlib.suppress(FileNotFoundError):
                filesystem.delete_file(info.path)


def publish(filesystem: pafs.FileSystem, temporary: str, inner: str, target: str) -> None:
    """Copy the finished temporary object onto the target (S3 CopyObject); a refusal becomes a
    PublishError that says what was kept and what to do."""
    try:
        filesystem.copy_file(temporary, inner)
    except OSError as error:
        message = publish_error_message(target, storage.uri_of(target, temporary), object_size(filesystem, temporary), error)
        raise PublishError(message) from error


def object_size(filesystem: pafs.FileSystem, inner: str) -> int | None:
    """The size of an object, or None when it cannot be told (for an error message: never raises)."""
    try:
        return filesystem.get_file_info(inner).size
    except OSError:
        return None


def publish_error_message(target: str, temporary: str, size: int | None, error: OSError) -> str:
    """Why a publish failed and how to get the file there."""
    kept = f"could not publish {target}: copying the finished {temporary} onto it failed ({error}); {target} is left as it was."
    if size is not None and size > COPY_LIMIT_BYTES:
        return (
            f"{kept} The file is {size:,} bytes, over the 5 GB (5,368,709,120 bytes) S3 CopyObject copies in one request on AWS. "
            "Write this export to a local path instead and upload it with `aws s3 cp` (a multipart upload)."
        )
    return (
        f"{kept} Check that the credentials may write (s3:PutObject) {target}. S3 CopyObject copies at most 5 GB on AWS: "
        "for a bigger file, write it to a local path and upload it with `aws s3 cp`."
    )


@contextmanager
def replaced_directory(target: Path) -> Iterator[Path]:
    """A fresh temporary folder beside `target` to fill; it replaces target when the block succeeds
    and is removed when it fails, so target only ever holds one complete set of parts."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    temporary = target.with_name(target.name + TEMP_MARKER + str(os.getpid()))
    previous = target.with_name(target.name + TEMP_MARKER + "old-" + str(os.getpid()))
    temporary.mkdir()
    try:
        yield temporary
        if target.exists():
            target.rename(previous)
        temporary.rename(target)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        shutil.rmtree(previous, ignore_errors=True)

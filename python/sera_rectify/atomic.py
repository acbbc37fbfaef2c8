"""Files and folders that appear only complete (spec/output.md: "the file appears only complete").

Every output of the build (the exports, the card, the conversion's folder of parts) is written under a
temporary name beside its target and renamed at the end, so the target only ever holds a complete
file: the previous good one or the new one. A killed build leaves a temporary name, which the next
write to the same target removes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TEMP_MARKER = ".tmp-"


def remove_stale_temp_files(target: Path) -> None:
    """Temporary files or folders of an earlier, interrupted write (the target itself is never touched)."""
    for stale in target.parent.glob(target.name + TEMP_MARKER + "*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


@contextmanager
def atomic_file(target: Path) -> Iterator[Path]:
    """A temporary path beside `target` to write to; renamed onto target when the block succeeds,
    removed when it fails, so target only ever holds a complete file (the old one or the new one)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(target)
    temporary = target.with_name(target.name + TEMP_MARKER + str(os.getpid()))
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


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

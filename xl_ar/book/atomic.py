"""Replacing a file atomically: a temp file beside it, synced, renamed over it.

On any failure the target is as it was and no temp file is left; a full disk or another
operating-system error is a :class:`BookError` saying the workbook is unchanged. A temp file a
killed run of the same workbook left behind is removed first (the caller holds the run lock).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import glob
import os
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator

from xl_ar.book.errors import BookError
from xl_ar.book.faults import fault_point
from xl_ar.book.zipio import temp_prefix


def replace_atomically(target: Path, body: Callable[[BinaryIO], None], mode_from: Path) -> None:
    """Write ``target`` anew through ``body(stream)``, then rename it into place.

    Args:
        target: the file to replace (or create).
        body: writes the new content to the open temp file.
        mode_from: the file whose permission bits the new one gets.

    Raises:
        BookError: the file could not be written (the target is unchanged).
    """
    prefix = temp_prefix(target)
    for stale in target.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        stale.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            body(out)
            out.flush()
            os.fsync(out.fileno())
        shutil.copymode(mode_from, tmp)
        fault_point("save:synced")
        os.replace(tmp, target)
        fault_point("save:replaced")
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and not isinstance(exc, BookError):
            raise BookError(f"{target.name} could not be saved ({exc.strerror or exc}); "
                            "the workbook is unchanged") from None
        raise
    fsync_folder(target.parent)  # make the rename itself durable


def fsync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (a file created or renamed into it) durable: POSIX only,
    a folder cannot be opened for it elsewhere."""
    if hasattr(os, "O_DIRECTORY"):
        with _folder(folder) as dfd:
            os.fsync(dfd)


@contextlib.contextmanager
def _folder(folder: Path) -> Iterator[int]:
    """A descriptor of ``folder`` (POSIX), closed after use."""
    dfd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield dfd
    finally:
        os.close(dfd)


@functools.cache
def _syncfs() -> Callable[[int], int] | None:
    """The C library's ``syncfs`` (Linux), or None where there is none."""
    try:
        return ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError, TypeError):
        return None


def can_sync_folder() -> bool:
    """Whether :func:`sync_files` makes many files durable with one call (``syncfs``)."""
    return hasattr(os, "O_DIRECTORY") and _syncfs() is not None


def sync_files(folder: Path, files: Iterable[Path]) -> None:
    """Make ``files`` (written, not synced, and renamed into ``folder``) durable, with the folder.

    A run that writes thousands of small files syncs them here once instead of each as it is
    written (on a loaded disk every ``fsync`` waits for a journal commit): one ``syncfs`` of the
    folder's file system where there is one, else an ``fsync`` of each file and of the folder.

    Args:
        folder: the folder the files were renamed into.
        files: the files.
    """
    if can_sync_folder():
        with _folder(folder) as dfd:
            if _syncfs()(dfd) == 0:
                return
    for f in files:
        fd = os.open(f, os.O_RDONLY | getattr(os, "O_BINARY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_folder(folder)

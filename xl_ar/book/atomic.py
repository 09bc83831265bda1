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
import threading
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
            with _writeback_ahead(out.fileno()):
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


#: How often the disk is asked to start writing what a save wrote so far (:func:`_writeback_ahead`).
WRITEBACK_EVERY = 0.25
_SYNC_FILE_RANGE_WRITE = 2  # Linux: start writing the range's dirty pages, do not wait


@contextlib.contextmanager
def _writeback_ahead(fd: int) -> Iterator[None]:
    """While the body is written, have the system start writing it to the disk every
    :data:`WRITEBACK_EVERY` seconds (Linux's ``sync_file_range``, on a thread of its own), so that
    the ``fsync`` after it waits for the last part only: a full sheet's workbook is 140 MB, and
    its fsync alone took up to half a second. Nothing where there is no such call."""
    call = _sync_file_range()
    if call is None:
        yield
        return
    done = threading.Event()

    def ahead() -> None:
        while not done.wait(WRITEBACK_EVERY):
            call(fd, ctypes.c_longlong(0), ctypes.c_longlong(0), _SYNC_FILE_RANGE_WRITE)  # (only ever time saved)

    thread = threading.Thread(target=ahead, name="xl-ar-writeback", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@functools.cache
def _sync_file_range() -> Callable[..., int] | None:
    """The C library's ``sync_file_range`` (Linux), or None where there is none."""
    if not hasattr(os, "O_DIRECTORY"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError, TypeError):
        return None


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

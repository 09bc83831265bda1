"""Giving the system back the memory a run's steps freed, and not searching it for cycles meanwhile.

The C allocator keeps the memory freed by a step (pandas and numpy temporaries of a few MB each
come from its heap, not from their own mappings) for the next allocations, and the pages stay
the process's even when nothing uses them: after computing a full sheet about 0.4 GiB of
1.2 GiB resident is such free memory, which the writing would add to. glibc's ``malloc_trim``
hands free pages back (about 0.07 s at a full sheet); elsewhere (other C libraries, Windows,
macOS) this does nothing. A run calls it between its steps: after validating, after
computing, after splicing the computed columns.

Python's cyclic garbage collector runs a full collection, which visits every container object
alive, each time the count of long-lived ones has grown by a quarter. A run makes millions of
them that hold no cycles (a sheet's rows as lists of cells, the tables made of them), so while
it builds them the collector visits them again and again for nothing: 3.1 s
of a full sheet's 36 s refresh, 0.3 s of 3.3 s at 100,000 invoices. A run pauses it
(:func:`collector_paused`); what the run frees it frees by reference counting, as always. The
few cycles a run makes (closures, exceptions kept with their tracebacks) wait for the
collection after it. Documents are made with the collector running (:func:`collector_resumed`):
the libraries that make them leave cycles behind each one. Meanwhile what the run held before
is set aside from it (:func:`collector_set_aside`), so that its collections visit only what
the documents make. The console script, its command done, collects once and sets what is left
aside (:func:`ready_to_exit`): the interpreter's shutdown would otherwise search every object
alive for cycles again, several times (0.1-0.2 s of a refresh at 10,000 to 100,000 invoices).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import gc
import sys
from typing import Callable, Iterator


_paused = False  # whether the collector is off because a run paused it (not because a caller did)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Within (a run: a ``with`` block, or a function decorated with ``@collector_paused()``):
    no cyclic garbage collection. Nested pauses end with the outermost; a collector already
    off (a caller's choice) stays off."""
    global _paused
    if not gc.isenabled():
        yield
        return
    gc.disable()
    _paused = True
    try:
        yield
    finally:
        _paused = False
        gc.enable()


@contextlib.contextmanager
def collector_resumed() -> Iterator[None]:
    """Within a run's pause: the collector runs again. For making documents: ReportLab, fontTools
    and the e-mail package leave cycles behind each one (some 2,500 objects a letter's PDF),
    which a run of thousands must not keep until it ends. Outside a pause, nothing changes;
    a resumption that ends after its pause did leaves the collector on."""
    if not _paused or gc.isenabled():
        yield
        return
    gc.enable()
    try:
        yield
    finally:
        if _paused:
            gc.disable()


@contextlib.contextmanager
def collector_set_aside() -> Iterator[None]:
    """Within: everything alive on entry is set aside from the cyclic collector (``gc.freeze``),
    and given back to it on exit. Documents leave cycles behind, so the collector runs while
    they are made, and each full collection would otherwise visit the whole run again (its
    ledger's objects, the statement source, the templates): a quarter of a second each, in
    every process. Set aside before worker processes are forked, those objects' pages are also
    not copied into each worker by a collection touching them. Nothing is set aside when
    something else had frozen objects already (what was frozen is not ours to thaw)."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def ready_to_exit() -> None:
    """Ready a process whose work is done to end quickly: its cyclic garbage collected once
    (finalizers run, files closed), then everything still alive set aside from the collector.

    The interpreter's shutdown runs several full collections over every object alive, the
    modules of pandas and numpy included: about 0.1 s of a 10,000-invoice refresh's second,
    spent on objects that live until the process ends anyway (the cycles its own teardown of
    the modules leaves are then not collected, only freed with the process). Only for a
    process about to exit (the console script): what is set aside is never collected again.
    """
    gc.collect()
    gc.freeze()


def return_free_memory() -> None:
    """Return the heap's free pages to the system where the C library can (glibc on Linux)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim

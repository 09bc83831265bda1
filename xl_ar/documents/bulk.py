"""Documents in bulk over the machine's cores: ``make(k)`` for each of a run's documents, in order.

Each reminder's documents (its statement workbook, its letter's PDF, its MIME package) cost
milliseconds of pure Python each, and a run makes thousands: one process uses one core. Where
the system can fork (Linux), :func:`in_order` splits the documents between worker processes
forked from the run; they inherit everything the run prepared (the ledger, the statement
source, the cut fonts, the rendered templates), make their share, write their own files, and
send back only the small results, which come out in the order of the documents, so a run's
output is the same whichever way it was made. A worker that dies (killed, out of memory) costs
only time: the documents it had not sent back are made here. Elsewhere (Windows, macOS: no
safe fork), for a few documents, with ``XL_AR_WORKERS=1``, or where no worker can be started
(no working semaphores, no memory or process slots left), they are made one after another here.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable, Iterable, Iterator, TypeVar

from xl_ar.core.beside import workers
from xl_ar.core.memory import collector_resumed, collector_set_aside

T = TypeVar("T")

#: Fewer documents than this are made here: forking costs more than it saves.
MIN_PARALLEL = 48

_job: Callable[[int], Any] | None = None  # the run's make(k), inherited by the forked workers


def in_order(make: Callable[[int], T], count: int, done: Callable[[int], None] | None = None, *,
             later: Iterable[int] = (), meanwhile: Callable[[], None] | None = None) -> Iterator[T]:
    """``make(0) … make(count - 1)``, in that order, made by :func:`workers` processes.

    Args:
        make: makes document ``k`` and returns what the run keeps of it (picklable when made in
            a worker: a worker's changes to anything else are lost with it).
        count: how many documents.
        done: called with how many are made so far, as they come in (progress).
        later: documents the workers make after all the others (they wait for ``meanwhile``).
        meanwhile: work for this process once the workers have started (the font cut the
            ``later`` documents need), so that it overlaps theirs; made first when there are
            no workers.

    Yields:
        The results, in order. An exception in ``make`` stops the run, as it would made here.
        They are made with the cyclic garbage collector running, in a run that paused it
        (:func:`xl_ar.core.memory.collector_resumed`): documents leave cycles behind. What the
        run held before is set aside from the collector meanwhile
        (:func:`xl_ar.core.memory.collector_set_aside`).
    """
    with collector_resumed(), collector_set_aside():  # before the workers are forked: they inherit both
        yield from _in_order(make, count, done, later, meanwhile)


def _in_order(make: Callable[[int], T], count: int, done: Callable[[int], None] | None,
              later: Iterable[int], meanwhile: Callable[[], None] | None) -> Iterator[T]:
    """:func:`in_order`, with the collector as it should be."""
    n = workers()
    pool = None
    if n > 1 and count >= MIN_PARALLEL:
        try:
            pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"))
        except (OSError, ImportError):  # no working semaphores here (some containers): one process
            pool = None
    if pool is None:
        if meanwhile is not None:
            meanwhile()
        for k in range(count):
            yield make(k)
            if done is not None:
                done(k + 1)
        return
    global _job
    _job = make
    last = sorted(set(later))
    first = sorted(set(range(count)) - set(last))
    size = max(4, min(64, count // (n * 8)))
    tail = max(1, min(size, len(last) // (n * 4)))  # the last ones shared finely: no worker idles at the end
    chunks = [seq[a:a + step] for seq, step in ((first, size), (last, tail)) for a in range(0, len(seq), step)]
    ready: dict[int, T] = {}
    k = made = 0
    try:
        try:
            results: Iterable[list[T]] = pool.map(_run, chunks)  # the workers are forked here
        except OSError:  # they could not be (no memory or process slots left): all are made below
            results = ()
        if meanwhile is not None:
            meanwhile()
        try:
            for chunk, part in zip(chunks, results):
                ready.update(zip(chunk, part))
                made += len(part)
                if done is not None:
                    done(made)
                while k in ready:
                    yield ready.pop(k)
                    k += 1
        except BrokenProcessPool:  # a worker died (killed, or out of memory)
            pass
        for j in range(k, count):  # what no worker sent back, made here (nothing, when all went well)
            if j not in ready:
                ready[j] = make(j)
                made += 1
                if done is not None:
                    done(made)
        while k in ready:
            yield ready.pop(k)
            k += 1
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        _job = None


def _run(chunk: list[int]) -> list[Any]:
    """In a worker: the chunk's documents."""
    assert _job is not None
    return [_job(k) for k in chunk]

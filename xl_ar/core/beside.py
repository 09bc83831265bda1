"""One piece of a run computed on a second core: in a process forked from the run, or on a thread.

A refresh at a full sheet spends seconds in steps that need only what the run already holds
and hand back a small result: the KPIs with their month-end trend, say, need the ledger and
its position, and return a few tables. :func:`beside` forks the run where the system can fork
safely (Linux); the child sees everything the parent prepared (copy on write: nothing is
copied or pickled on the way in), computes, and writes back the pickled result while the parent
goes on with the run's other steps. What comes back is the very value the call would have
returned here, so a run's results do not depend on where a piece was computed.

Nothing is lost when the child cannot help: where the system cannot fork (Windows, macOS),
with ``XL_AR_WORKERS=1``, on one core, or when no process can be started (no memory or
process slots left), the call is made here at once, where the child would have started. A
child that dies without an answer (killed, out of memory) costs only time: the call is then
made here when its result is asked for. An exception raised by the call in the child is raised
again here, as the call would have raised it (when it cannot be sent back, the call is made
here and raises itself).

On a ledger so large that a forked child would come to copy many of the run's pages, the call
runs on a thread of the run instead (``thread=True``; on any system with a second core, as a
thread needs no fork): it shares the run's memory, and gains where its work is numpy's and
pandas' array loops, which let the other thread run meanwhile.

A thread sees the very objects the run goes on using, and pandas changes a frame's internal
layout on some reads (it consolidates its blocks); so a call made on a thread is given views of
its own of its arguments (:func:`detached`): shallow copies of the frames, sharing their data,
never their layout. A forked child has copies of its own already, and a call made here needs
none: they are made only for a thread.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import gc
import multiprocessing
import os
import pickle
import tempfile
import threading
from typing import Any, Callable, Generic, TypeVar

import pandas as pd

from xl_ar.core.cores import cores

T = TypeVar("T")


def workers() -> int:
    """How many processes a run may use: :func:`cores`, or 1 where the system cannot fork
    safely (only Linux can here)."""
    return cores() if can_fork() else 1


def can_fork() -> bool:
    """Whether a run may fork processes: on Linux (elsewhere, forking a process that has threads
    or system frameworks loaded is not safe)."""
    return "fork" in multiprocessing.get_all_start_methods() and os.name == "posix" and os.uname().sysname == "Linux"


class Beside(Generic[T]):
    """A call being made in a forked child or on a thread, or made here; :meth:`result` gives its value."""

    def __init__(self, call: Callable[[], T], fork: bool, thread: bool = False):
        self._call: Callable[[], T] | None = call
        self._proc: Any = None
        self._spill: Any = None
        self._thread: threading.Thread | None = None
        self._done: tuple[bool, Any] | None = None
        if thread:
            try:
                self._thread = threading.Thread(target=self._on_thread, name="xl-ar-beside", daemon=True)
                self._thread.start()
            except RuntimeError:  # no thread could be started: made here
                self._thread = None
                self._here()
            return
        if not fork:
            self._here()
            return
        ctx = multiprocessing.get_context("fork")
        # Objects that exist now are left out of the child's garbage collections: a collection
        # writes to every object it visits, and each page written is then copied for the child.
        gc.freeze()
        try:
            # The answer comes back through a file without a name (a pipe would hold the whole
            # pickled answer in memory on both sides at once).
            self._spill = tempfile.TemporaryFile()
            self._proc = ctx.Process(target=_in_child, args=(self._spill, call), daemon=True)
            self._proc.start()
        except OSError:  # no temporary file or no process could be made: made here
            self._proc = None
            if self._spill is not None:
                self._spill.close()
            self._here()
        finally:
            gc.unfreeze()

    def _here(self) -> None:
        """Make the call now, here (where a child would have started it): keep its outcome."""
        call, self._call = self._call, None
        try:
            self._done = (True, call())  # type: ignore[misc]
        except Exception as exc:
            self._done = (False, exc)

    def _on_thread(self) -> None:
        """On the thread: make the call and keep its outcome, whatever it raises."""
        call, self._call = self._call, None
        try:
            self._done = (True, call())  # type: ignore[misc]
        except BaseException as exc:  # raised again by result(), in the run's thread
            self._done = (False, exc)

    def drop(self) -> None:
        """Let the call go unanswered, for a run that fails before it needs the value: a forked
        child is stopped and reaped at once (no process is left behind, however long the run's
        process lives: the ribbon's server), a thread runs to its end in the background (its
        result then dropped), an outcome made here is forgotten."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.is_alive():
                proc.kill()
            proc.join()
            self._spill.close()
        self._thread = None  # a daemon thread: nothing waits for it
        self._call = self._done = None

    def result(self) -> T:
        """The call's value (or its exception), waiting for the child or thread when there is one."""
        if self._thread is not None:
            thread, self._thread = self._thread, None
            thread.join()
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.join()
            answer: tuple[bool, Any] | None = None
            try:
                if proc.exitcode == 0:
                    self._spill.seek(0)
                    answer = pickle.load(self._spill)
            except Exception:  # an answer cut short or that cannot be rebuilt: made here
                answer = None
            finally:
                self._spill.close()
            if answer is None:  # the child died without an answer, or could not give one
                self._here()
            else:
                self._call, self._done = None, answer
        if self._done is None:
            raise RuntimeError("the result of a call beside was already taken")
        (ok, payload), self._done = self._done, None
        if not ok:
            raise payload
        return payload


def beside(call: Callable[..., T], *args: Any, worth_it: bool = True, thread: bool = False) -> Beside[T]:
    """Start ``call(*args)`` on a second core, when there is one and ``worth_it``; else make it here now.

    Args:
        call: the computation; it must not change anything the parent uses later (a child's
            changes are lost with it) and its result must pickle.
        args: what it is called with.
        worth_it: False for small inputs, where forking would cost more than it saves.
        thread: on a thread of this process instead of a forked child (on any system with a
            second core). The call is then given views of its own of ``args`` (:func:`detached`,
            made here before it starts), and must read nothing else the run uses meanwhile.

    Returns:
        The :class:`Beside`; take its result before anything that depends on it.
    """
    if thread:  # threads need no fork: any system with a second core
        go = worth_it and cores() > 1
        return Beside(functools.partial(call, *(detached(args) if go else args)), fork=False, thread=go)
    return Beside(functools.partial(call, *args), fork=worth_it and workers() > 1)


def detached(value: Any, views: dict[int, tuple[Any, Any]] | None = None) -> Any:
    """``value`` with views of its own of every frame and series it holds, for a call made on a
    thread: shallow copies (the same data, copied only if one side writes it) inside dataclasses,
    dicts, lists and tuples, and an object's own ``detached_view(views)`` where it has one;
    anything else is shared as it is. An object met twice gets the same view (``views``: what
    was made so far, by the id of what it was made from). Make them in the run's thread, before
    the call starts."""
    views = {} if views is None else views
    made = views.get(id(value))
    if made is not None:
        return made[1]
    if isinstance(value, (pd.DataFrame, pd.Series)):
        out = value.copy(deep=False)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = copy.copy(value)
        for f in dataclasses.fields(value):
            object.__setattr__(out, f.name, detached(getattr(value, f.name), views))  # frozen ones too
    elif isinstance(value, dict):
        out = {k: detached(v, views) for k, v in value.items()}
    elif isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        out = type(value)(*(detached(v, views) for v in value))
    elif isinstance(value, (list, tuple)):
        out = type(value)(detached(v, views) for v in value)
    elif callable(getattr(type(value), "detached_view", None)):
        out = value.detached_view(views)
    else:
        return value
    views[id(value)] = (value, out)  # the original kept with it, so its id is not reused meanwhile
    return out


def _in_child(spill: Any, call: Callable[[], Any]) -> None:
    """In the child: make the call and write (True, value) or (False, exception) to ``spill``;
    exit 0 only when it is all written (the parent reads no answer from a child that failed)."""
    code = 1
    try:
        try:
            message: tuple[bool, Any] = (True, call())
        except Exception as exc:  # raised again in the parent
            message = (False, exc)
        pickle.dump(message, spill, protocol=pickle.HIGHEST_PROTOCOL)
        spill.flush()
        code = 0
    except BaseException:  # an unpicklable value or exception: the parent makes the call itself
        pass
    finally:
        os._exit(code)  # no exit handlers, no flushing of buffers the parent owns

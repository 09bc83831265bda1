"""A piece of a run made in a forked child or on a thread gives what it gives made here: the same
value, the same exception; a child that dies or cannot start costs only time."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from xl_ar.core import beside as bs
from xl_ar.core import run as core_run


@pytest.fixture
def two(monkeypatch):
    monkeypatch.setenv("XL_AR_WORKERS", "2")
    if bs.workers() < 2:
        pytest.skip("this system cannot fork")


def test_the_value_is_made_in_a_child_and_comes_back_whole(two):
    here = os.getpid()
    frame = pd.DataFrame({"a": np.arange(100_000), "b": ["x"] * 100_000})
    job = bs.beside(lambda: (os.getpid(), frame.assign(c=frame["a"] * 2)))
    pid, got = job.result()
    assert pid != here
    assert got["c"].sum() == 2 * sum(range(100_000)) and list(got.columns) == ["a", "b", "c"]


def test_not_worth_it_or_one_worker_is_made_here_at_once(monkeypatch):
    calls = []
    job = bs.beside(lambda: calls.append(os.getpid()) or 7, worth_it=False)
    assert calls == [os.getpid()]  # made already, where a child would have started
    assert job.result() == 7
    monkeypatch.setenv("XL_AR_WORKERS", "1")
    assert bs.beside(lambda: os.getpid()).result() == os.getpid()
    with pytest.raises(RuntimeError, match="already taken"):
        job.result()


def test_an_exception_in_the_child_is_raised_here(two):
    def fails():
        raise ValueError("the KPI settings' aging edges differ")

    job = bs.beside(fails)
    with pytest.raises(ValueError, match="aging edges differ"):
        job.result()


def test_an_exception_that_cannot_be_sent_back_is_raised_by_the_call_made_here(two):
    class Odd(Exception):
        def __init__(self, a, b):  # pickles, but cannot be rebuilt from its args
            super().__init__(f"{a}/{b}")

    def fails():
        raise Odd(1, 2)

    with pytest.raises(Odd, match="1/2"):
        bs.beside(fails).result()


def test_a_child_that_dies_costs_only_time(two):
    here = os.getpid()

    def dies_in_child():
        if os.getpid() != here:
            os._exit(9)  # as a child killed by the system would
        return "made here"

    assert bs.beside(dies_in_child).result() == "made here"


def test_no_process_slots_left_means_made_here(two, monkeypatch):
    import multiprocessing

    def no_fork(self):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(multiprocessing.get_context("fork").Process, "start", no_fork)
    assert bs.beside(lambda: os.getpid()).result() == os.getpid()


def test_a_refresh_with_its_kpis_made_beside_writes_the_same_workbook(two, monkeypatch, tmp_path):
    from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
    from xl_ar.cli import main

    here, made = (write_demo_ledger(tmp_path / f"{k}.xlsx", "en", n_customers=120) for k in ("here", "beside"))
    monkeypatch.setattr(core_run, "BESIDE_INVOICES", 10**9)
    assert main(["refresh", str(here), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    monkeypatch.setattr(core_run, "BESIDE_INVOICES", 0)
    pids = _kpis_made_on(monkeypatch, os.getpid)
    assert main(["refresh", str(made), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    assert pids == []  # made in the child: this process never made the call
    assert _parts(made) == _parts(here)


def _parts(book):
    """Every part of a workbook but the time it was saved at (docProps/core.xml)."""
    import zipfile

    with zipfile.ZipFile(book) as z:
        return {n: z.read(n) for n in z.namelist() if n != "docProps/core.xml"}


def test_no_temporary_file_means_made_here(two, monkeypatch):
    import tempfile

    def no_file(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "TemporaryFile", no_file)
    assert bs.beside(lambda: os.getpid()).result() == os.getpid()


def test_on_a_thread_the_value_comes_back_from_another_thread(two):
    import threading

    here = threading.get_ident()
    frame = pd.DataFrame({"a": np.arange(100_000)})
    job = bs.beside(lambda: (threading.get_ident(), os.getpid(), int(frame["a"].sum())), thread=True)
    ident, pid, total = job.result()
    assert ident != here and pid == os.getpid() and total == sum(range(100_000))
    with pytest.raises(RuntimeError, match="already taken"):
        job.result()


def test_on_a_thread_whatever_the_call_raises_is_raised_by_result(two):
    def fails():
        raise ValueError("the trend months are negative")

    job = bs.beside(fails, thread=True)
    with pytest.raises(ValueError, match="trend months"):
        job.result()

    def exits():
        raise SystemExit(3)  # not an Exception: still the call's outcome, not a lost thread

    with pytest.raises(SystemExit):
        bs.beside(exits, thread=True).result()


def test_on_a_thread_with_one_worker_or_no_thread_left_it_is_made_here(two, monkeypatch):
    import threading

    here = threading.get_ident()
    monkeypatch.setenv("XL_AR_WORKERS", "1")
    assert bs.beside(threading.get_ident, thread=True).result() == here
    monkeypatch.setenv("XL_AR_WORKERS", "2")

    def no_thread(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading.Thread, "start", no_thread)
    assert bs.beside(threading.get_ident, thread=True).result() == here


def test_detached_views_share_the_data_and_never_the_layout():
    import dataclasses
    from typing import NamedTuple

    @dataclasses.dataclass(frozen=True)
    class Inner:
        frame: pd.DataFrame
        n: int

    class Pair(NamedTuple):
        left: pd.Series
        right: str

    frame = pd.DataFrame({"a": np.arange(5), "b": list("vwxyz")})
    frame["c"] = frame["a"] * 2  # a frame of several blocks: a read may consolidate them
    value = {"inner": Inner(frame, 3), "list": [frame["a"]], "pair": Pair(frame["b"], "k"), "n": 1}
    got = bs.detached(value)
    g = got["inner"]
    assert type(g) is Inner and g is not value["inner"] and g.n == 3
    assert g.frame is not frame and g.frame._mgr is not frame._mgr
    assert np.shares_memory(g.frame["a"].to_numpy(), frame["a"].to_numpy())  # no data copied
    assert g.frame.equals(frame)
    assert isinstance(got["pair"], Pair) and got["pair"].right == "k" and got["pair"].left is not frame["b"]
    assert got["list"][0].equals(frame["a"]) and got["n"] == 1
    frame.loc[0, "a"] = 99  # the run writing its own frame leaves the view as it was
    assert g.frame.loc[0, "a"] == 0

    class Holder:  # an object that says how it is viewed, given the views made so far
        def __init__(self, inner):
            self.inner = inner

        def detached_view(self, views):
            return Holder(bs.detached(self.inner, views))

    inner = Inner(frame, 1)
    a, b = bs.detached((inner, Holder(inner)))
    assert b.inner is a and a is not inner  # met twice: one view


def test_a_call_on_a_thread_gets_views_of_its_arguments_and_here_the_arguments(two):
    frame = pd.DataFrame({"a": np.arange(3)})
    got = bs.beside(lambda f, n: (f, n), frame, 5, thread=True).result()
    assert got[0] is not frame and got[0].equals(frame) and got[1] == 5
    assert bs.beside(lambda f: f, frame, thread=True, worth_it=False).result() is frame
    assert bs.beside(lambda f: f is frame, frame, worth_it=False).result() is True


def test_a_refresh_with_its_kpis_made_on_a_thread_writes_the_same_workbook(two, monkeypatch, tmp_path):
    import threading

    from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
    from xl_ar.cli import main

    here, made = (write_demo_ledger(tmp_path / f"{k}.xlsx", "en", n_customers=120) for k in ("here", "thread"))
    monkeypatch.setattr(core_run, "BESIDE_INVOICES", 10**9)
    assert main(["refresh", str(here), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    monkeypatch.setattr(core_run, "BESIDE_INVOICES", 0)
    monkeypatch.setattr(core_run, "BESIDE_INVOICES_UP_TO", 0)
    threads = _kpis_made_on(monkeypatch, threading.get_ident)
    assert main(["refresh", str(made), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    assert len(threads) == 1 and threads[0] != threading.get_ident()
    assert _parts(made) == _parts(here)


def test_a_thread_needs_no_fork_where_a_child_would_be_made_here(monkeypatch):
    import threading

    here = threading.get_ident()
    monkeypatch.setenv("XL_AR_WORKERS", "2")
    monkeypatch.setattr(bs, "can_fork", lambda: False)  # as on Windows or macOS
    assert bs.workers() == 1 and bs.cores() == 2
    assert bs.beside(threading.get_ident, thread=True).result() != here
    assert bs.beside(os.getpid).result() == os.getpid()  # no child: made here
    assert bs.beside(threading.get_ident, thread=True, worth_it=False).result() == here


def test_where_the_system_cannot_fork_a_large_ledgers_kpis_go_on_a_thread(two, monkeypatch, tmp_path):
    import threading

    from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
    from xl_ar.cli import main

    book = write_demo_ledger(tmp_path / "book.xlsx", "en", n_customers=40)
    monkeypatch.setattr(core_run, "BESIDE_INVOICES", 0)  # "large"; below BESIDE_INVOICES_UP_TO
    monkeypatch.setattr(core_run, "can_fork", lambda: False)
    threads = _kpis_made_on(monkeypatch, threading.get_ident)
    assert main(["refresh", str(book), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == 0
    assert len(threads) == 1 and threads[0] != threading.get_ident()


def _kpis_made_on(monkeypatch, where):
    """The list that gets ``where()`` (a thread or a process id) each time the KPIs are computed."""
    seen = []
    real = core_run.compute_kpis
    monkeypatch.setattr(core_run, "compute_kpis", lambda *a, **k: seen.append(where()) or real(*a, **k))
    return seen


def test_a_call_let_go_unanswered_leaves_no_process_behind(two):
    import multiprocessing
    import time

    slow = bs.beside(time.sleep, 30)
    assert multiprocessing.active_children()
    started = time.monotonic()
    slow.drop()
    assert time.monotonic() - started < 10 and multiprocessing.active_children() == []
    with pytest.raises(RuntimeError):
        slow.result()
    here = bs.beside(lambda: 1, worth_it=False)
    here.drop()  # an outcome made here is forgotten
    with pytest.raises(RuntimeError):
        here.result()



@pytest.mark.parametrize("beside_what", ["kpis", "owned sheets"])
def test_a_refresh_that_fails_meanwhile_leaves_no_process_behind(two, monkeypatch, tmp_path, beside_what):
    """The run fails while a forked child computes for it (the KPIs during the core, the owned
    sheets during the splice): the child is stopped and reaped, the workbook left as it was."""
    import multiprocessing

    from xl_ar.app.demo import DEMO_AS_OF, write_demo_ledger
    from xl_ar.book import writer
    from xl_ar.book.package import BookError
    from xl_ar.cli import main

    import tempfile

    book = write_demo_ledger(tmp_path / "b.xlsx", "en", n_customers=60)
    before = book.read_bytes()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where a fault's details are written
    if beside_what == "kpis":
        monkeypatch.setattr(core_run, "BESIDE_INVOICES", 0)
        monkeypatch.setattr(core_run, "assess_credit", lambda *a, **k: {}["a fault of the tool"])
        code = 70  # xl-ar's own fault: one line, the details in a file
    else:
        monkeypatch.setattr(writer, "OWNED_BESIDE_INVOICES", 0)

        def damaged(*a, **k):
            raise BookError("the sheet is damaged")

        monkeypatch.setattr(writer, "_splice_outputs", damaged)
        code = 2  # a workbook problem
    assert main(["refresh", str(book), "--as-of", DEMO_AS_OF.isoformat(), "--quiet"]) == code
    assert multiprocessing.active_children() == []
    assert book.read_bytes() == before
    assert len(list(tmp_path.glob("xl-ar-error-*.txt"))) == (code == 70)

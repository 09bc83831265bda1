"""Documents made by worker processes are the documents made one after another: the same files,
headers, bodies and attachments, the same Outbox rows and warnings, in the same order."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil

import pytest

from test_reminders import AS_OF, NOW, SETTINGS, make_book
from xl_ar.app.reminders import build_reminders
from xl_ar.documents import bulk

D = dt.date


def test_in_order_gives_every_result_in_order_with_progress(monkeypatch):
    monkeypatch.setenv("XL_AR_WORKERS", "2")
    if bulk.workers() < 2:
        pytest.skip("this system cannot fork worker processes")
    seen = []
    assert list(bulk.in_order(lambda k: (k, k * k), 500, seen.append)) == [(k, k * k) for k in range(500)]
    assert seen == sorted(seen) and seen[-1] == 500


def test_documents_made_later_still_come_in_order_and_the_meanwhile_work_runs_once_here(monkeypatch):
    import os

    monkeypatch.setenv("XL_AR_WORKERS", "2")
    here, calls = os.getpid(), []
    later = [3, 77, 78, 150, 299]
    got = list(bulk.in_order(lambda k: (k, os.getpid() != here or bulk.workers() < 2), 300,
                             later=later, meanwhile=lambda: calls.append(os.getpid())))
    assert [k for k, _ in got] == list(range(300)) and all(w for _, w in got)  # made by the workers
    assert calls == [here]


def test_a_worker_that_dies_costs_only_time(monkeypatch):
    import os

    monkeypatch.setenv("XL_AR_WORKERS", "2")
    here = os.getpid()

    def make(k):
        if k == 100 and os.getpid() != here:
            os._exit(9)  # as a worker killed by the system would
        return k * 2

    seen = []
    assert list(bulk.in_order(make, 300, seen.append)) == [k * 2 for k in range(300)]
    assert seen[-1] == 300


def test_without_working_semaphores_the_documents_are_made_here(monkeypatch):
    import os

    def no_pool(*args, **kwargs):
        raise OSError("This platform lacks a functioning sem_open implementation")

    monkeypatch.setenv("XL_AR_WORKERS", "2")
    monkeypatch.setattr(bulk, "ProcessPoolExecutor", no_pool)
    here, calls = os.getpid(), []
    got = list(bulk.in_order(lambda k: (k, os.getpid()), 100, meanwhile=lambda: calls.append(1)))
    assert got == [(k, here) for k in range(100)] and calls == [1]


def test_when_no_worker_can_be_forked_the_documents_are_made_here(monkeypatch):
    import os
    from concurrent.futures import ProcessPoolExecutor

    class NoFork(ProcessPoolExecutor):
        def map(self, *args, **kwargs):
            raise OSError(11, "Resource temporarily unavailable")  # fork's EAGAIN

    monkeypatch.setenv("XL_AR_WORKERS", "2")
    monkeypatch.setattr(bulk, "ProcessPoolExecutor", NoFork)
    here, calls, seen = os.getpid(), [], []
    got = list(bulk.in_order(lambda k: (k, os.getpid()), 100, seen.append, meanwhile=lambda: calls.append(1)))
    assert got == [(k, here) for k in range(100)] and calls == [1] and seen[-1] == 100


def test_an_error_in_a_worker_stops_the_run(monkeypatch):
    monkeypatch.setenv("XL_AR_WORKERS", "2")

    def make(k):
        if k == 321:
            raise ValueError("document 321 failed")
        return k

    with pytest.raises(ValueError, match="document 321 failed"):
        list(bulk.in_order(make, 500))


def test_one_worker_or_a_few_documents_are_made_here(monkeypatch):
    monkeypatch.setenv("XL_AR_WORKERS", "1")
    here = []
    assert list(bulk.in_order(lambda k: here.append(k) or k, 100)) == list(range(100)) and here == list(range(100))
    monkeypatch.setenv("XL_AR_WORKERS", "2")
    here.clear()
    assert list(bulk.in_order(lambda k: here.append(k) or k, bulk.MIN_PARALLEL - 1)) == list(range(47))
    assert len(here) == bulk.MIN_PARALLEL - 1


@pytest.mark.parametrize("workers", [1, 2])
def test_what_the_run_held_is_set_aside_from_the_collector_while_documents_are_made(monkeypatch, workers):
    import gc

    monkeypatch.setenv("XL_AR_WORKERS", str(workers))
    held = [[k] for k in range(1000)]  # the run's objects
    assert gc.get_freeze_count() == 0
    counts = list(bulk.in_order(lambda k: gc.get_freeze_count(), 100))
    assert min(counts) >= len(held)  # in each worker, and here when there are none
    assert gc.get_freeze_count() == 0  # and given back to the collector after
    with pytest.raises(ZeroDivisionError):
        list(bulk.in_order(lambda k: 1 // (k - 60), 100))
    assert gc.get_freeze_count() == 0  # also when a document fails


def test_objects_a_caller_froze_stay_frozen(monkeypatch):
    import gc

    monkeypatch.setenv("XL_AR_WORKERS", "1")
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        assert list(bulk.in_order(lambda k: gc.get_freeze_count(), 50)) == [frozen] * 50
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def ledger():
    """70 customers: reminders before the due date, overdue notes with a statement, dunning
    letters (a PDF each), lawyer's letters, SMS for two customers without an address, and a
    customer whose name is refused as a header (a warning)."""
    customers, invoices = [], []
    for i in range(1, 71):
        zh = i % 2 == 0
        name = f"客户{i}贸易有限公司" if zh else f"Customer {i} Ltd"
        if i == 13:
            name = "Bad\r\nBcc: victim@else.example"
        mail = "" if i in (10, 20) else f"ap{i}@c{i}.example"
        phone = "13800000000" if i in (10, 20) else ""
        klass = "C" if i in (10, 20) else "B"
        customers.append([f"K{i:03d}", name, klass, f"联系人{i}", mail, phone, 30, 1.0e6, "", "zh" if zh else "en"])
        due = (D(2024, 12, 1) if i % 7 == 0 else D(2025, 2, 10) if i % 3 == 0 else D(2025, 4, 5) if i % 5 == 0
               else D(2025, 3, 1))
        for j in range(1 + i % 3):
            invoices.append([f"N{i:03d}-{j}", f"K{i:03d}", due - dt.timedelta(days=30), due, 1000.0 * i + j,
                             "CNY", "", "", "", ""])
    return customers, invoices


def drafts(book, out, workers, monkeypatch):
    monkeypatch.setenv("XL_AR_WORKERS", str(workers))
    s = build_reminders(book, AS_OF, out_dir=out, now=NOW)
    parsed = {}
    for f in s.files:
        raw = f.read_bytes()  # byte for byte: a draft's boundaries are its own, not random
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        heads = [(k, str(v)) for k, v in msg.items()]
        parts = [(p.get_content_type(), p.get_filename(), p.get_content()) for p in msg.walk() if not p.is_multipart()]
        parsed[f.name] = (heads, parts, raw)
    return s, parsed


def test_reminders_made_by_workers_equal_those_made_here(tmp_path, monkeypatch):
    if bulk.workers() < 2 and "XL_AR_WORKERS" not in __import__("os").environ:
        monkeypatch.setenv("XL_AR_WORKERS", "2")
        if bulk.workers() < 2:
            pytest.skip("this system cannot fork worker processes")
    customers, invoices = ledger()
    book = make_book(tmp_path / "one.xlsx", customers=customers, invoices=invoices, settings=SETTINGS)
    shutil.copy(book, tmp_path / "two.xlsx")
    one, files_one = drafts(book, tmp_path / "out1", 1, monkeypatch)
    two, files_two = drafts(tmp_path / "two.xlsx", tmp_path / "out2", 2, monkeypatch)
    assert len(files_one) >= bulk.MIN_PARALLEL  # enough to be made by the workers
    kinds = {e.file.split("_")[1] for e in one.entries if e.file.endswith(".eml")}
    assert {"dunning"} <= kinds and any(e.channel == "sms" for e in one.entries)
    assert [str(i) for i in one.issues] == [str(i) for i in two.issues]
    assert any("Customers!B" in str(i) and "K013" in str(i) for i in one.issues)  # the refused name, placed
    assert [e.__dict__ for e in one.entries] == [{**e.__dict__, "file": e.file.replace("out2", "out1")}
                                                 for e in two.entries]
    assert [f.name for f in one.files] == [f.name for f in two.files]
    assert files_one == files_two
    assert (tmp_path / "out1" / "sms.csv").read_bytes() == (tmp_path / "out2" / "sms.csv").read_bytes()
    pdfs = [p for _, parts, _ in files_one.values() for p in parts if p[0] == "application/pdf"]
    assert pdfs and all(p[2][:5] == b"%PDF-" for p in pdfs)


def test_the_command_prints_the_first_rows_of_a_long_outbox_and_quiet_prints_none(tmp_path, capsys):
    from xl_ar.cli import main
    from xl_ar.cli.common import MAX_PRINTED_ROWS

    customers, invoices = ledger()
    book = make_book(tmp_path / "l.xlsx", customers=customers, invoices=invoices, settings=SETTINGS)
    assert main(["reminders", str(book), "--as-of", AS_OF.isoformat(), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    made = len(list((tmp_path / "out").glob("*.eml"))) + 2  # and the two SMS
    assert out.count("│ K0") == MAX_PRINTED_ROWS < made
    assert f"... and {made - MAX_PRINTED_ROWS} more: the Outbox sheet lists them all" in out
    assert main(["reminders", str(book), "--as-of", AS_OF.isoformat(), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_statements_made_by_workers_are_the_files_made_here(tmp_path, monkeypatch):
    from xl_ar.app.statements import BookFile, run_statements
    from xl_ar.documents.fonts import find_cjk_font

    customers, invoices = ledger()
    book = make_book(tmp_path / "l.xlsx", customers=customers, invoices=invoices, settings=SETTINGS)
    formats = ("xlsx", "pdf") if find_cjk_font() else ("xlsx",)
    made = {}
    for workers in (1, 2):
        monkeypatch.setenv("XL_AR_WORKERS", str(workers))
        r = run_statements(BookFile(book), D(2025, 3, 1), AS_OF, out_dir=tmp_path / f"s{workers}", formats=formats)
        assert r.issues == [] or all(i.severity == "warning" for i in r.issues)
        made[workers] = {f.name: f.read_bytes() for f in r.files}
    assert len(made[1]) >= bulk.MIN_PARALLEL and list(made[1]) == list(made[2])
    assert made[1] == made[2]  # byte for byte: the same statement gives the same file wherever it is made
    names = [name.rsplit(".", 1) for name in made[1]]  # each statement's files together, its .xlsx first
    assert [ext for _, ext in names] == list(formats) * (len(names) // len(formats))
    assert [stem for stem, _ in names] == [stem for stem, _ in names[::len(formats)] for _ in formats]


def test_a_deferred_font_cut_without_semaphores_is_made_at_first_use(monkeypatch):
    import multiprocessing
    from pathlib import Path

    from xl_ar.documents import fonts

    if fonts.find_cjk_font() is None:
        pytest.skip("no CJK font on this machine")

    def no_event(self):
        raise OSError("This platform lacks a functioning sem_open implementation")

    monkeypatch.setattr(type(multiprocessing.get_context("fork")), "Event", no_event)
    with fonts.BatchFonts(extra=["催款函 abc 123"], bold_extra=["催款函"], deferred=True) as batch:
        fonts = batch.fonts_for(set("催款函 abc"), set("催款函"))
        assert fonts is not None and Path(fonts[0][0]).is_file() and Path(fonts[1][0]).is_file()
        batch.cut()  # the run's own call afterwards does nothing more
        assert batch.fonts_for(set("abc"), set("函")) == fonts

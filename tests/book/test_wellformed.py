"""A large sheet's well-formedness checked in a process of its own, while the run goes on
(real workbooks, the real script in a fresh interpreter, the real refresh)."""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import sys
import zipfile

import pytest

from corpus.build import edit_sheet, invoice_cell, ledger
from xl_ar.app.refresh import run_refresh
from xl_ar.book import screen, wellformed
from xl_ar.book.filebook import FileBook
from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.book.reader import read_book

MISMATCHED = r"sheet3.xml is not well-formed XML \(line 1, column \d+: mismatched tag\)"


def broken(book):
    """The Invoices sheet with a row left open (calamine reads it; expat refuses it)."""
    return edit_sheet(book, "Invoices", lambda x: x.replace(b"</sheetData>", b"<row></sheetData>"))


def script(book, part):
    """The check run as the screening runs it, on ``part`` of ``book`` as the file holds it."""
    member = WorkbookPackage.open(book).stored(part)
    info = member.info
    out = subprocess.run([sys.executable, "-I", screen._SCRIPT, str(book), str(member.data_offset),
                          str(info.compress_size), str(info.compress_type), str(info.file_size)],
                         capture_output=True, check=True, text=True)
    return out.stdout


def restored(tmp_path, book, method):
    """``book`` written again with every member ``method`` (stored or deflated)."""
    out = tmp_path / f"{method}-{book.name}"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", method) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, src.read(item))
    return out


@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_the_script_answers_as_the_check_made_here(tmp_path, method):
    good = restored(tmp_path, ledger(tmp_path / "good.xlsx"), method)
    bad = restored(tmp_path, broken(ledger(tmp_path / "bad.xlsx")), method)
    doctype = restored(tmp_path, edit_sheet(ledger(tmp_path / "dt.xlsx"), "Invoices", lambda x: x.replace(
        b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "b">]><worksheet', 1)), method)
    part = "xl/worksheets/sheet3.xml"
    assert script(good, part) == "null\n"
    assert script(bad, part).startswith('"line 1, column ') and script(bad, part).endswith(': mismatched tag"\n')
    assert script(doctype, part) == '"doctype"\n'
    with pytest.raises(BookError) as here:
        screen.check_xml(WorkbookPackage.open(bad).read(part), part, bad.name)
    assert str(here.value) == screen._refusal(eval(script(bad, part)), part, bad.name)


def test_a_member_longer_than_its_header_says_is_read_no_further(tmp_path):
    book = ledger(tmp_path / "x.xlsx")
    member = WorkbookPackage.open(book).stored("xl/worksheets/sheet3.xml")
    info = member.info
    pieces = list(wellformed.member_pieces(str(book), member.data_offset, info.compress_size, 8, 100))
    assert sum(map(len, pieces)) == 101  # the declared size and one byte, to tell it was longer
    with pytest.raises(wellformed.Refused, match="line 1, column"):
        wellformed.check_pieces(pieces)


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_member_is_read_in_pieces_no_further_than_its_declared_size(tmp_path, method):
    path = tmp_path / "x.zip"
    content = b"<sheetData>" + b"<row/>" * 5000 + b"</sheetData>"
    with zipfile.ZipFile(path, "w", compression=method) as z:
        z.writestr("s.xml", content)
    info = zipfile.ZipFile(path).getinfo("s.xml")
    offset = info.header_offset + 30 + len(info.filename.encode())  # (no extra field written)
    read = wellformed.member_pieces(str(path), offset, info.compress_size, method, len(content), piece=1000)
    pieces = list(read)
    assert b"".join(pieces) == content and max(map(len, pieces)) <= 1000
    # Declared shorter than it is (a lying header): one byte past the declared size, no more.
    short = list(wellformed.member_pieces(str(path), offset, info.compress_size, method, 100, piece=1000))
    assert b"".join(short) == content[:101]


def test_a_stream_cut_short_is_told_from_one_that_ended(tmp_path):
    path = tmp_path / "x.zip"
    content = bytes(range(256)) * 4000  # (deflates to about as much)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("s.xml", content)
    info = zipfile.ZipFile(path).getinfo("s.xml")
    offset = info.header_offset + 30 + len(info.filename.encode())

    def drained(compressed):
        pieces = wellformed.member_pieces(str(path), offset, compressed, 8, len(content))
        got = b""
        while True:
            try:
                got += next(pieces)
            except StopIteration as end:
                return got, end.value

    assert drained(info.compress_size) == (content, True)
    got, ended = drained(info.compress_size // 2)
    assert not ended and content.startswith(got) and len(got) < len(content)
    with open(path, "r+b") as f:  # a stream that cannot be inflated
        f.seek(offset)
        f.write(b"\xff" * 8)
    with pytest.raises(wellformed.Corrupt):
        drained(info.compress_size)


def test_the_script_runs_at_the_lowest_priority(tmp_path):
    book = ledger(tmp_path / "x.xlsx")
    member = WorkbookPackage.open(book).stored("xl/worksheets/sheet3.xml")
    info = member.info
    probe = (f"import os, sys; sys.path.insert(0, {str(screen._SCRIPT.rsplit('/', 1)[0])!r}); import wellformed; "
             f"wellformed.main([{str(book)!r}, '{member.data_offset}', '{info.compress_size}', '8', '{info.file_size}']); "
             "print(os.nice(0))")
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, check=True, text=True).stdout
    assert out.split() == ["null", "19"]


def test_read_book_can_leave_the_checks_running_and_they_refuse_the_part_when_finished(tmp_path, monkeypatch):
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    data = read_book(broken(ledger(tmp_path / "x.xlsx")), checks_later=True)
    assert list(data.tables["Invoices"].frame["invoice_no"]) == ["I1", "I2", "I3", "I4"]  # read meanwhile
    with pytest.raises(BookError, match=MISMATCHED):
        data.finish_checks()
    data.finish_checks()  # once
    good = read_book(ledger(tmp_path / "good.xlsx"), checks_later=True)
    good.finish_checks()
    assert read_book(ledger(tmp_path / "good2.xlsx")).checks is None  # finished before returning


def test_checks_dropped_stop_their_processes(tmp_path, monkeypatch):
    (tmp_path / "slow.py").write_text("import time; time.sleep(60)")
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    monkeypatch.setattr(screen, "_SCRIPT", str(tmp_path / "slow.py"))
    data = read_book(ledger(tmp_path / "x.xlsx"), checks_later=True)
    procs = [check.proc for check in data.checks.pending]
    assert procs and all(p.poll() is None for p in procs)
    data.drop_checks()
    assert all(p.returncode is not None for p in procs) and not data.checks.pending


def test_the_large_sheets_checks_start_before_the_screening_reads_them(tmp_path, monkeypatch):
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    events = []
    popen, read = screen.subprocess.Popen, WorkbookPackage.read

    def started(args, **kw):
        events.append(("check", args[4]))  # (the script's arguments: the file, the member's offset...)
        return popen(args, **kw)

    def reading(self, part):
        events.append(("read", part))
        return read(self, part)

    monkeypatch.setattr(screen.subprocess, "Popen", started)
    monkeypatch.setattr(WorkbookPackage, "read", reading)
    book = ledger(tmp_path / "x.xlsx")
    screening = screen.screen_book(WorkbookPackage.open(book))
    checks = [e for e in events if e[0] == "check"]
    first_read = next(k for k, e in enumerate(events) if e[0] == "read" and e[1].startswith("xl/worksheets/sheet"))
    assert len(checks) == len(screening.pending) >= 3  # every ledger sheet's (all "large" here)
    assert all(events.index(c) < first_read for c in checks)  # before any sheet was read here
    assert [c.proc for c in screening.pending if c.proc is None] == []  # each answers from its process
    screening.finish()
    # A sheet reached answers through the check started for it: a broken one is refused.
    with pytest.raises(BookError, match=MISMATCHED):
        screen.screen_book(WorkbookPackage.open(broken(ledger(tmp_path / "y.xlsx")))).finish()


def test_a_check_started_for_a_sheet_the_screening_never_reaches_is_stopped(tmp_path, monkeypatch):
    """The screening fails on the first ledger sheet (a chart sheet named Customers, say): the
    error is its own, not that of a broken sheet after it, and no check is left running."""
    (tmp_path / "slow.py").write_text("import time; time.sleep(60)")
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    started, popen = [], screen.subprocess.Popen
    monkeypatch.setattr(screen.subprocess, "Popen", lambda *a, **kw: started.append(popen(*a, **kw)) or started[-1])
    book = broken(ledger(tmp_path / "x.xlsx"))
    pkg = WorkbookPackage.open(book)
    kinds = pkg.sheet_kinds()
    customers = next(k for k, (name, _, _) in enumerate(kinds) if name == "Customers")
    monkeypatch.setattr(WorkbookPackage, "sheet_kinds", lambda self: [
        (n, p, "chartsheet" if k == customers else kind) for k, (n, p, kind) in enumerate(kinds)])
    monkeypatch.setattr(screen, "_SCRIPT", str(tmp_path / "slow.py"))
    with pytest.raises(BookError, match="chart sheet"):
        screen.screen_book(pkg)
    assert started and all(p.returncode is not None for p in started)  # stopped and reaped


def md5(path):
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("write", [True, False])  # a refresh, and a check (xl-ar check)
def test_a_refresh_names_the_broken_part_not_what_the_reading_made_of_it(tmp_path, monkeypatch, write):
    """The checks finish while the run validates: a part that is not well-formed is still the
    error, before any issue found in what calamine read of it, and nothing is written."""
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    receipts = edit_sheet(ledger(tmp_path / "r.xlsx"), "Receipts", lambda x: x.replace(b"</sheetData>", b"<row></sheetData>"))
    for book, part in ((broken(ledger(tmp_path / "x.xlsx")), "sheet3.xml"),
                       (broken(ledger(tmp_path / "y.xlsx", invoices=invoice_cell(amount="twelve hundred"))), "sheet3.xml"),
                       (receipts, "sheet4.xml")):  # a sheet the writing leaves alone
        before = md5(book)
        with pytest.raises(BookError, match=MISMATCHED.replace("sheet3.xml", part)):
            run_refresh(FileBook(book), as_of=dt.date(2026, 11, 2), write=write)
        assert md5(book) == before and not (tmp_path / ".xl-ar-backups").exists()


def test_a_refresh_with_the_checks_beside_writes_what_one_without_them_writes(tmp_path, monkeypatch):
    here = ledger(tmp_path / "here.xlsx")
    beside = ledger(tmp_path / "beside.xlsx")
    a = run_refresh(FileBook(here), as_of=dt.date(2026, 11, 2))
    monkeypatch.setattr(screen, "BESIDE_BYTES", 0)
    b = run_refresh(FileBook(beside), as_of=dt.date(2026, 11, 2))
    assert a.ok and b.ok and a.written and b.written
    with zipfile.ZipFile(here) as x, zipfile.ZipFile(beside) as y:
        assert x.namelist() == y.namelist()
        assert all(x.read(n) == y.read(n) for n in x.namelist() if n != "docProps/core.xml")

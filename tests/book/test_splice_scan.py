"""A large sheet's blocks scanned ahead (:mod:`xl_ar.book.splice_scan`): the splice given the
scans writes the XML it writes from its own passes, byte for byte, on every border between
blocks; a scan of another block is not taken; and through the file adapter a refresh writes the
same workbook with the scanning process, without it, and when that process fails or is late,
leaving no process behind."""

from __future__ import annotations

import datetime as dt
import itertools
import pickle
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import openpyxl

import pytest
from hypothesis import HealthCheck, given, settings

from test_refresh import AS_OF, write_ledger
from test_splice_stream import COLS, LEDGER, generated_sheets, sheet, values, whole
from xl_ar.app.refresh import run_refresh
from xl_ar.book import splice as splice_module
from xl_ar.book import splice_scan, splice_stream
from xl_ar.book.filebook import FileBook
from xl_ar.book.splice import _BlockSplicer, _Request
from xl_ar.book.splice_scan import BlockScan, scan_pieces
from xl_ar.book.splice_stream import Unstreamable, _compared, _head, row_blocks


def pieces_of(xml: bytes, piece: int):
    return iter([xml[i: i + piece] for i in range(0, len(xml), piece)])


def streamed(xml: bytes, header: int, cols, rows, vals, piece: int, scans=()):
    """The block-by-block splice of ``xml`` read ``piece`` bytes at a time, given ``scans``:
    (new XML, whether it is the same) or None when it declines."""
    req = _Request.checked(header, cols, rows, vals)
    pieces = pieces_of(xml, piece)
    try:
        head = _head(pieces)
        splicer = _BlockSplicer(head, req, scans)
        same = [True]
        out = b"".join(_compared(row_blocks(itertools.chain([head], pieces), splicer.row_close), splicer, same, None))
    except Unstreamable:
        return None
    return out, same[0]


@pytest.fixture
def taken(monkeypatch):
    """How many blocks the fast path spliced with a scan and without one: [without, with]."""
    counts = [0, 0]
    fast = splice_module._Splice.fast

    def spy(self, prologue, scan=None):
        counts[scan is not None] += 1
        return fast(self, prologue, scan)

    monkeypatch.setattr(splice_module._Splice, "fast", spy)
    return counts


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(generated_sheets())
def test_the_splice_from_the_scans_is_the_splice_from_its_own_passes(taken, case):
    xml, header, targets, cols, piece = case
    vals = values(targets, cols)
    idx = [c.index for c in cols]
    scans, cut = list(scan_pieces(pieces_of(xml, piece))), list(scan_pieces(pieces_of(xml, piece), idx))
    taken[:] = [0, 0]
    got = streamed(xml, header, cols, targets, vals, piece, scans)
    assert got == streamed(xml, header, cols, targets, vals, piece)
    assert streamed(xml, header, cols, targets, vals, piece, cut) == got
    if got is not None:
        assert got[0] == whole(xml, header, cols, targets, vals)
        assert taken[1] == 2 * len(scans)  # every block but the last took its scan, both times
        again = list(scan_pieces(pieces_of(got[0], piece), idx))  # the next day's: our cells there already
        assert streamed(got[0], header, cols, targets, vals, piece, again) == (got[0], True)


def test_a_ledger_in_many_blocks_takes_a_scan_for_each_but_the_last(taken):
    xml, rows = sheet(LEDGER), list(range(2, 40))
    scans = list(scan_pieces(pieces_of(xml, 40)))
    assert len(scans) > 10 and not any(s.anomaly for s in scans)
    assert [r for s in scans for r in s.rows.tolist()] == list(range(1, 1 + sum(len(s.rows) for s in scans)))
    expected = whole(xml, 1, COLS, rows, values(rows))
    taken[:] = [0, 0]
    assert streamed(xml, 1, COLS, rows, values(rows), 40, scans) == (expected, False)
    assert taken == [1, len(scans)]  # the last block's passes made by the splice


def test_a_scan_of_another_block_is_not_taken(taken):
    xml, rows = sheet(LEDGER), list(range(2, 40))
    scans = [BlockScan(s.size + 1, s.anomaly, s.rows, s.closes) for s in list(scan_pieces(pieces_of(xml, 40)))]
    assert streamed(xml, 1, COLS, rows, values(rows), 40, scans) == (whole(xml, 1, COLS, rows, values(rows)), False)
    assert taken[1] == 0


@pytest.fixture
def cut_taken(monkeypatch):
    """The blocks spliced from a scan's cut: how many, and how many of them had old cells of ours."""
    counts = [0, 0]
    without = splice_module.without

    def spy(xml, runs):
        counts[0] += 1
        counts[1] += bool(len(runs))
        return without(xml, runs)

    monkeypatch.setattr(splice_module, "without", spy)
    return counts


def test_the_next_days_splice_takes_our_old_cells_out_as_the_scan_found_them(cut_taken):
    rows = list(range(2, 40))
    first = whole(sheet(LEDGER), 1, COLS, rows, values(rows))
    idx = [c.index for c in COLS]
    scans = list(scan_pieces(pieces_of(first, 60), idx))
    with_cells = [bool(len(s.cut.runs)) for s in scans]  # (a row whose values are all blank has none)
    assert sum(with_cells) > 30
    assert streamed(first, 1, COLS, rows, values(rows), 60, scans) == (first, True)
    assert cut_taken == [len(scans), sum(with_cells)]


def test_a_cut_for_other_columns_is_not_taken(cut_taken):
    rows = list(range(2, 40))
    first = whole(sheet(LEDGER), 1, COLS, rows, values(rows))
    scans = list(scan_pieces(pieces_of(first, 60), [c.index + 1 for c in COLS]))
    assert streamed(first, 1, COLS, rows, values(rows), 60, scans) == (first, True)
    assert cut_taken == [0, 0]


def test_a_block_the_scan_found_unusual_declines_as_without_it():
    data = LEDGER + '<row r="40"><c r="A40"><v>1</v></c><extLst/></row>' + LEDGER.replace('r="', 'r="9')
    xml = sheet(data)
    scans = list(scan_pieces(pieces_of(xml, 40)))
    assert any(s.anomaly for s in scans)
    assert streamed(xml, 1, COLS, [2, 3], values([2, 3]), 40, scans) is None


# ------------------------------------------------------------------------------- the file adapter


@pytest.fixture
def streamed_book(tmp_path, monkeypatch):
    """The refresh's test ledger with every sheet spliced by blocks of 300 bytes of XML."""
    monkeypatch.setattr(splice_stream, "STREAM_FROM", 0)
    monkeypatch.setattr(splice_stream, "BLOCK_BYTES", 300)
    return write_ledger(tmp_path / "ledger.xlsx")


@pytest.fixture
def processes(monkeypatch):
    """The scanning processes started, and each waited for before its scans are taken (the
    test's ledger is validated sooner than a process starts)."""
    started = []
    popen = subprocess.Popen

    def spy(*args, **kwargs):
        proc = popen(*args, **kwargs)
        if list(args[0][:2]) == [sys.executable, "-c"]:  # (not another library's process)
            started.append(proc)
        return proc

    monkeypatch.setattr(splice_scan.subprocess, "Popen", spy)
    return started


def refreshed_twice(book: Path, out: Path) -> list[bytes]:
    """The workbook's bytes after a refresh at the as-of date and one a day later."""
    shutil.copy(book, out)
    days = []
    for as_of in (dt.date.fromisoformat(AS_OF), dt.date.fromisoformat(AS_OF) + dt.timedelta(days=1)):
        report = run_refresh(FileBook(out), as_of=as_of, today=as_of)
        assert report.written and not [i for i in report.issues if i.severity == "error"]
        days.append(_content(out))
    return days


def _content(path: Path) -> bytes:
    """The workbook's parts but its core properties (they hold the time of writing)."""
    with zipfile.ZipFile(path) as z:
        return b"".join(n.encode() + z.read(n) for n in sorted(z.namelist()) if n != "docProps/core.xml")


def _patient(take):
    """``Scans.take`` that waits for the process first (the test's ledger is validated sooner
    than a process starts)."""
    def patient(self):
        if self._proc is not None:
            self._proc.wait()
        return take(self)
    return patient


def test_a_refresh_writes_the_same_workbook_with_the_scans_as_without(streamed_book, tmp_path, monkeypatch, processes,
                                                                      taken):
    monkeypatch.setattr(splice_scan.Scans, "take", _patient(splice_scan.Scans.take))
    made = splice_module.without
    cuts = []
    monkeypatch.setattr(splice_module, "without", lambda xml, runs: cuts.append(len(runs)) or made(xml, runs))
    with_scans = refreshed_twice(streamed_book, tmp_path / "scanned.xlsx")
    assert len(processes) == 2 and all(p.returncode == 0 for p in processes)  # one a day, reaped
    assert taken[1] > 0 and any(cuts)  # the second day's old cells taken out as scanned
    monkeypatch.setenv("XL_AR_WORKERS", "1")  # one core: no scanning
    taken[:] = [0, 0]
    assert refreshed_twice(streamed_book, tmp_path / "plain.xlsx") == with_scans
    assert len(processes) == 2 and taken[1] == 0


@pytest.mark.parametrize("child", ["import time; time.sleep(60)", "import sys; sys.exit(3)", "print('not a pickle')"],
                         ids=["late", "fails", "answers nonsense"])
def test_a_scanning_process_late_or_failing_costs_nothing_and_is_not_left_behind(streamed_book, tmp_path, monkeypatch,
                                                                                 processes, taken, child):
    monkeypatch.setattr(splice_scan, "CHILD", child)
    if not child.startswith("import time"):  # waited for: it fails rather than being late
        monkeypatch.setattr(splice_scan.Scans, "take", _patient(splice_scan.Scans.take))
    got = refreshed_twice(streamed_book, tmp_path / "odd.xlsx")
    assert len(processes) == 2 and all(p.returncode is not None for p in processes)  # stopped or ended, reaped
    assert taken[1] == 0
    monkeypatch.setenv("XL_AR_WORKERS", "1")
    assert refreshed_twice(streamed_book, tmp_path / "plain.xlsx") == got


def test_a_run_that_does_not_write_stops_its_scanning(streamed_book, tmp_path, monkeypatch, processes):
    monkeypatch.setattr(splice_scan, "CHILD", "import time; time.sleep(60)")
    book = Path(shutil.copy(streamed_book, tmp_path / "check.xlsx"))
    run_refresh(FileBook(book), as_of=dt.date.fromisoformat(AS_OF), write=False)
    assert processes == []  # a check writes nothing: nothing is scanned
    bad = Path(shutil.copy(streamed_book, tmp_path / "bad.xlsx"))
    wb = openpyxl.load_workbook(bad)
    wb["Invoices"]["E2"] = "twelve hundred"
    wb.save(bad)
    report = run_refresh(FileBook(bad), as_of=dt.date.fromisoformat(AS_OF))
    assert not report.written and len(processes) == 1 and processes[0].returncode is not None


def test_the_scans_written_before_the_process_is_stopped_are_taken(tmp_path):
    """A process still running when the run writes is stopped; the blocks it had scanned are
    taken, up to a record it was cut short in."""
    scans = list(scan_pieces(pieces_of(sheet(LEDGER), 40)))
    out = tempfile.TemporaryFile()
    for scan in scans[:3]:
        out.write(pickle.dumps(("Invoices", scan)))
    out.write(pickle.dumps(("Invoices", scans[3]))[:-5])  # cut short as it was written
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    got = splice_scan.Scans(proc, out).take()
    assert proc.returncode is not None and out.closed  # stopped, reaped
    assert list(got) == ["Invoices"] and [s.size for s in got["Invoices"]] == [s.size for s in scans[:3]]
    assert all((a.rows == b.rows).all() and (a.closes == b.closes).all() for a, b in zip(got["Invoices"], scans))


def test_scans_that_cannot_be_started_cost_nothing(streamed_book, tmp_path, monkeypatch, processes):
    def refuse(*args, **kwargs):
        raise ValueError("no scans here")

    monkeypatch.setattr(splice_scan, "start_scans", refuse)
    monkeypatch.setattr("xl_ar.book.filebook.start_scans", refuse)
    got = refreshed_twice(streamed_book, tmp_path / "unscanned.xlsx")
    monkeypatch.setenv("XL_AR_WORKERS", "1")
    assert refreshed_twice(streamed_book, tmp_path / "plain.xlsx") == got and processes == []

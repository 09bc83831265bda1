"""Progress through a run's steps on a real workbook: the bar moves inside each step (the reading
by screening, copy, sheets and rows; validation by table; the rules; the splice by the bytes of
the sheet) and only ever forward, on a routine of consecutive days. The steps' thresholds are
lowered so that the demo's ledger takes the paths a full sheet takes (the reading copy, the
streamed splice, rows taken by blocks)."""

from __future__ import annotations

import datetime as dt

import pytest

from xl_ar.app.demo import write_demo_ledger
from xl_ar.app.refresh import run_refresh
from xl_ar.app.reminders import build_reminders
from xl_ar.app.statements import BookFile, run_statements
from xl_ar.book import reader, splice_stream, strip
from xl_ar.book.filebook import FileBook

STAGES = {"read": (0.0, 0.3), "validate": (0.3, 0.5), "compute": (0.5, 0.7), "write": (0.7, 1.0), "done": (1.0, 1.0)}


@pytest.fixture
def full_sheet_paths(monkeypatch):
    monkeypatch.setattr(strip, "STRIP_FROM", 0)
    monkeypatch.setattr(splice_stream, "STREAM_FROM", 0)
    monkeypatch.setattr(splice_stream, "BLOCK_BYTES", 1 << 14)
    monkeypatch.setattr(strip, "_PIECE", 1 << 14)
    monkeypatch.setattr(reader, "ROWS_AT_ONCE", 64)


def recorded():
    seen: list[tuple[str, float]] = []
    return seen, lambda stage, fraction: seen.append((stage, fraction))


def test_a_refresh_moves_through_every_step_on_consecutive_days(tmp_path, full_sheet_paths):
    book = write_demo_ledger(tmp_path / "demo.xlsx", "zh")
    for day in (dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)):
        seen, progress = recorded()
        report = run_refresh(FileBook(book), as_of=day, progress=progress)
        assert report.ok and report.written
        assert seen[0] == ("read", 0.0) and seen[-1] == ("done", 1.0)
        assert [s for s, _ in seen] == sorted((s for s, _ in seen), key=list(STAGES).index)
        fractions = [f for _, f in seen]
        assert fractions == sorted(fractions)
        for stage, (lo, hi) in STAGES.items():
            inside = [f for s, f in seen if s == stage]
            assert inside and all(lo - 1e-9 <= f <= hi + 1e-9 for f in inside), stage
            assert inside[0] == pytest.approx(lo)
            percents = [int(f * 100 + 1e-9) for f in inside]
            assert percents == sorted(set(percents))  # a whole percent further each time
        # the long steps are seen moving, not only begun: 3,600 invoices' rows by blocks of 64,
        # the sheets' bytes by blocks of 16 KB, the rules one by one
        counts = {stage: sum(s == stage for s, _ in seen) for stage in STAGES}
        assert counts["read"] >= 15 and counts["write"] >= 10
        assert counts["validate"] >= 4 and counts["compute"] >= 6
        assert max(f for s, f in seen if s == "read") == pytest.approx(0.3)


def test_a_refresh_with_errors_stops_after_validating(tmp_path):
    import openpyxl

    book = write_demo_ledger(tmp_path / "demo.xlsx", "en")
    wb = openpyxl.load_workbook(book)
    ws = wb["Invoices"]
    ws["E5"] = "twelve hundred"
    wb.save(book)
    seen, progress = recorded()
    report = run_refresh(FileBook(book), as_of=dt.date(2026, 11, 2), progress=progress)
    assert not report.ok
    assert [s for s, _ in seen][-1] == "validate" and "compute" not in {s for s, _ in seen}


def test_documents_runs_show_their_reading_too(tmp_path, full_sheet_paths):
    book = write_demo_ledger(tmp_path / "demo.xlsx", "zh")
    assert run_refresh(FileBook(book), as_of=dt.date(2026, 11, 2)).ok  # the computed columns: the copy cuts them
    for run, read_end, validate_end in (("reminders", 0.15, 0.2), ("statements", 0.2, 0.4)):
        seen, progress = recorded()
        if run == "reminders":
            assert build_reminders(book, dt.date(2026, 11, 2), tmp_path / "r", progress=progress).files
        else:
            assert run_statements(BookFile(book), dt.date(2026, 10, 1), dt.date(2026, 10, 31),
                                  out_dir=tmp_path / "s", formats=("xlsx",), progress=progress).files
        read = [f for s, f in seen if s == "read"]
        assert read[0] == 0.0 and len(read) >= 10 and read == sorted(read) and max(read) == pytest.approx(read_end)
        validate = [f for s, f in seen if s == "validate"]
        assert validate[0] == pytest.approx(read_end) and len(validate) >= 4 and max(validate) <= validate_end + 1e-9
        assert [f for _, f in seen] == sorted(f for _, f in seen)
        assert seen[-1] == ("done", 1.0)
        compute = [f for s, f in seen if s == "compute"]
        if run == "reminders":  # the rules, the plan, the letters' texts, the statements' source
            assert len(compute) >= 6 and compute[0] == pytest.approx(0.2) and max(compute) == pytest.approx(0.3)
        else:
            assert len(compute) == 1  # statements: one step, no rules to report

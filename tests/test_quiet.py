"""``--quiet``: a run prints nothing but its failures; the exit code still tells the outcome."""

from __future__ import annotations

from test_refresh import AS_OF, write_ledger
from xl_ar.cli import main


def test_quiet_refresh_prints_nothing_and_still_writes(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    before = book.read_bytes()
    assert main(["refresh", str(book), "--as-of", AS_OF, "--quiet"]) == 0
    out = capsys.readouterr()
    assert (out.out, out.err) == ("", "") and book.read_bytes() != before


def test_quiet_still_reports_a_failure(tmp_path, capsys):
    assert main(["refresh", str(tmp_path / "missing.xlsx"), "-q"]) == 2
    out = capsys.readouterr()
    assert out.out == "" and "missing.xlsx" in out.err


def test_quiet_statements_and_reminders(tmp_path, capsys):
    book = write_ledger(tmp_path / "ledger.xlsx")
    assert main(["statements", str(book), "--from", "2025-02-01", "--to", AS_OF, "--format", "xlsx",
                 "--out", str(tmp_path / "st"), "--quiet"]) == 0
    assert main(["reminders", str(book), "--as-of", AS_OF, "--out", str(tmp_path / "rem"), "--quiet"]) in (0, 1)
    out = capsys.readouterr()
    assert out.out == "" and out.err == ""
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["ST-C1-20250201-20250331.xlsx",
                                                                 "ST-C2-20250201-20250331.xlsx"]

"""Excel's 32,767 characters per cell: copies of longer cells are cut with a visible mark and warned."""

from __future__ import annotations

import re
import sys
import zipfile
from pathlib import Path

from hypothesis import given, settings, strategies as st

from xl_ar.book.render import render_sheet
from xl_ar.cli import main
from xl_ar.core.convert import EXCEL_CELL_CHARS, cut_cell_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "corpus"))
from build import AS_OF  # noqa: E402
from cases import long_cells  # noqa: E402


def _units(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


def test_text_that_fits_is_unchanged_and_longer_text_is_cut_with_a_mark():
    assert cut_cell_text("x" * EXCEL_CELL_CHARS) == "x" * EXCEL_CELL_CHARS
    cut = cut_cell_text("x" * 100_000)
    mark = "… [cut: 100,000 characters, a cell holds 32,767]"
    assert len(cut) == EXCEL_CELL_CHARS and cut.endswith(mark) and cut == "x" * (EXCEL_CELL_CHARS - len(mark)) + mark


def test_excel_counts_an_emoji_as_two_and_none_is_cut_in_half():
    s = "😀" * 20_000  # 20,000 characters, 40,000 UTF-16 units
    cut = cut_cell_text(s)
    assert _units(cut) <= EXCEL_CELL_CHARS and "\ufffd" not in cut
    assert cut.startswith("😀" * 16_000) and cut.endswith("a cell holds 32,767]")


@settings(max_examples=50, deadline=None)
@given(st.text(min_size=0, max_size=40).map(lambda s: s * 1500))
def test_any_cut_fits_and_keeps_the_start(s):
    cut = cut_cell_text(s)
    assert _units(cut) <= EXCEL_CELL_CHARS
    if cut != s:
        start = cut[:cut.rindex("… [cut: ")]
        assert s.startswith(start) and _units(start) >= EXCEL_CELL_CHARS - 60


def test_an_owned_sheet_never_holds_a_cell_longer_than_excel_allows():
    xml = render_sheet([["head"], ["y" * 100_000]]).decode()
    (text,) = [t for t in re.findall(r"<t>([^<]*)</t>", xml) if t.startswith("y")]
    assert len(text) == EXCEL_CELL_CHARS and text.endswith("a cell holds 32,767]")


def test_refresh_warns_naming_the_source_cells_and_cuts_every_copy(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    book = long_cells(tmp_path / "book.xlsx")
    with zipfile.ZipFile(book) as z:
        before = {n: z.read(n) for n in z.namelist()}
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert ("warning Customers!B2: name of 100,000 characters is longer than the 32,767 an Excel cell holds; "
            "it is cut (and marked) where xl-ar copies it") in out
    assert "warning Invoices!H2: description of 100,000 characters" in out
    copies = 0
    with zipfile.ZipFile(book) as z:
        for name in z.namelist():
            if not name.startswith("xl/worksheets/"):
                continue
            data = z.read(name)
            for t in re.findall(rb"<t[^>]*>([^<]*)</t>", data):
                if t in (b"N" * 100_000, b"D" * 100_000):  # the user's own cells stay as they are
                    assert name in before and t in before[name]
                    continue
                assert len(t.decode()) <= EXCEL_CELL_CHARS, name
                copies += t.endswith("a cell holds 32,767]".encode())
    assert copies >= 2  # the name copied into Collections and another owned sheet, each cut and marked

"""The reader's cut copy (:mod:`xl_ar.book.strip`): calamine parsing a refreshed ledger's sheets
without the tool's own cells below their headers reads the very ledger it reads from the whole
sheets, and what the cut does not read with certainty is read as before (real workbooks, written
by the tool's own refresh, by openpyxl and by LibreOffice, edited where a writer would not go)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import re
import shutil
import subprocess
import tempfile
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook

from test_refresh import AS_OF, write_ledger
from xl_ar.book import layout, reader, screen, strip
from xl_ar.book.headers import OUTPUTS
from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.book.sheetxml import col_index, col_letter
from xl_ar.cli import main

NEVER = 1 << 62  # a threshold no sheet reaches: every sheet read whole
SHIPPED = strip.STRIP_FROM


@pytest.fixture
def tmp(tmp_path, monkeypatch):
    """The folder temporary files go to: the copy must be gone from it after every read."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory) -> Path:
    """The ledger of ``tests/test_refresh.py`` as its first refresh leaves it (inline strings)."""
    book = write_ledger(tmp_path_factory.mktemp("ledger") / "ledger.xlsx")
    assert main(["refresh", str(book), "--as-of", AS_OF, "--quiet"]) == 0
    return book


def read(path, monkeypatch, *, cut: bool):
    """read_book with every ledger sheet cut where the rule says so (or none); the sheets cut."""
    monkeypatch.setattr(strip, "STRIP_FROM", 0 if cut else NEVER)
    seen = {}
    made = strip.reading_copy

    def spy(*args, **kwargs):
        copy = made(*args, **kwargs)
        seen.update(copy.cuts)
        return copy

    monkeypatch.setattr(reader, "reading_copy", spy)
    try:
        return reader.read_book(path), seen
    finally:
        monkeypatch.setattr(reader, "reading_copy", made)


def assert_same(a, b) -> None:
    assert a.layouts == b.layouts and a.settings == b.settings and a.sheet_names == b.sheet_names
    assert a.tables.keys() == b.tables.keys()
    for name, t in a.tables.items():
        pd.testing.assert_frame_equal(t.frame, b.tables[name].frame)
        assert dataclasses.replace(t, frame=None) == dataclasses.replace(b.tables[name], frame=None)


def cut_and_whole(path, monkeypatch, tmp):
    """Read both ways; assert they agree and the copy is gone. Returns the names of the sheets cut."""
    got, cut = read(path, monkeypatch, cut=True)
    assert not list(tmp.iterdir())
    whole, none = read(path, monkeypatch, cut=False)
    assert not none
    assert_same(got, whole)
    return set(cut)


def rewrite(kit, src: Path, dest: Path, edit, sheet: str = "Invoices") -> Path:
    """A copy of ``src`` with one sheet's XML edited (as text)."""
    part = WorkbookPackage.open(src).sheet_part(sheet)
    parts = kit.zip_parts(src)
    parts[part] = edit(parts[part].decode()).encode()
    kit.write_zip(dest, parts)
    return dest


def first_ours(path: Path, sheet: str = "Invoices") -> int:
    """The 1-based column of the first computed header on row 1."""
    ws = openpyxl.load_workbook(path, read_only=True)[sheet]
    header = next(ws.iter_rows(max_row=1, values_only=True))
    labels = {label for labels in OUTPUTS[sheet].values() for label in labels}
    return next(i for i, v in enumerate(header, 1) if v in labels)


# ----------------------------------------------------------------------------- the same ledger


def test_a_refreshed_ledger_reads_the_same_from_the_cut_copy(refreshed, monkeypatch, tmp):
    assert cut_and_whole(refreshed, monkeypatch, tmp) == {"Invoices", "Customers"}
    monkeypatch.setattr(strip, "STRIP_FROM", SHIPPED)  # a small ledger: no copy
    pkg = WorkbookPackage.open(refreshed)
    screening = screen.screen_book(pkg)
    screening.finish()
    assert strip.reading_copy(pkg, screening, layout.first_ours, layout.HEADER_SEARCH_ROWS).path is None


def test_the_copy_is_cut_from_the_xml_the_screening_inflated_which_it_then_lets_go(refreshed, monkeypatch):
    monkeypatch.setattr(strip, "STRIP_FROM", 0)
    pkg = WorkbookPackage.open(refreshed)
    inflated, iter_member = [], strip.iter_member
    monkeypatch.setattr(strip, "iter_member", lambda *a: inflated.append(a[3]) or iter_member(*a))

    def screened():
        screening = screen.screen_book(pkg)
        screening.finish()
        assert all(s.xml == pkg.read(s.part) for s in screening.sheets.values())  # (none trimmed: the parts)
        return screening

    screening = screened()
    with strip.reading_copy(pkg, screening, layout.first_ours, layout.HEADER_SEARCH_ROWS) as copy:
        assert set(copy.cuts) == {"Invoices", "Customers"}
    assert inflated and set(inflated) == {strip._HEAD_PIECE}  # the sheets' first rows alone, not the sheets again
    assert all(s.xml is None for s in screening.sheets.values())
    screening = screened()  # nothing to cut: let go too
    assert strip.reading_copy(pkg, screening, lambda head, table: None, reader.HEADER_SEARCH_ROWS).path is None
    assert all(s.xml is None for s in screening.sheets.values())
    screening = screened()  # interrupted: let go too

    def interrupted(*a):
        raise KeyboardInterrupt

    monkeypatch.setattr(strip, "_write_copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        strip.reading_copy(pkg, screening, layout.first_ours, layout.HEADER_SEARCH_ROWS)
    assert all(s.xml is None for s in screening.sheets.values())


def test_the_copy_holds_none_of_the_tools_cells_not_even_the_headers_so_calamine_reads_it_narrow(refreshed, monkeypatch):
    """calamine holds a grid as wide as the widest row: the header's computed titles are cut from
    the copy too, and handed to the reader with it, as the first rows' own reading gave them."""
    o = first_ours(refreshed)
    with copy_of(refreshed, monkeypatch) as (pkg, copy):
        assert copy.cuts["Invoices"] == (0, o - 1)
        assert copy.heads["Invoices"] == (("Paid", "Open", "DaysLate", "Bucket", "LateFee", "Stage", "NextAction",
                                            "Channel", "Owner", "NextActionDate"),)
        sheet = zipfile.ZipFile(copy.path).read(pkg.sheet_part("Invoices"))
        assert re.findall(rb'<c r="([A-Z]+)1"', sheet) == [col_letter(c).encode() for c in range(1, o)]
        assert all(col_index(c.decode()) < o for c in re.findall(rb'<c r="([A-Z]+)[0-9]+"', sheet))
        wb = CalamineWorkbook.from_path(str(copy.path))
        assert wb.get_sheet_by_name("Invoices").width == o - 1
        wb.close()


@contextlib.contextmanager
def copy_of(book: Path, monkeypatch):
    """The package of ``book`` and its reading copy, every ledger sheet cut where the rule says so."""
    monkeypatch.setattr(strip, "STRIP_FROM", 0)
    pkg = WorkbookPackage.open(book)
    screening = screen.screen_book(pkg)
    screening.finish()
    with strip.reading_copy(pkg, screening, layout.first_ours, layout.HEADER_SEARCH_ROWS) as copy:
        yield pkg, copy


def under_titles(x: str, titles: list[str]) -> str:
    """The sheet's rows moved down under the title rows ``titles`` (each a ``<row>`` element,
    numbered from 1), without its dimension."""
    n = len(titles)
    x = re.sub(r'(<row r="|<c r="[A-Z]+)([0-9]+)"', lambda m: f'{m.group(1)}{int(m.group(2)) + n}"', x)
    return re.sub(r'<dimension ref="[^"]*"/>', "", x).replace("<sheetData>", "<sheetData>" + "".join(titles), 1)


def above_the_header(x: str, o: str) -> str:
    """The sheet under a title row with cells of its own in the computed columns: a text, a date
    (a number to the first rows' reading, a date to calamine's), a flag."""
    last = col_letter(col_index(o) + 9)
    return under_titles(x, [f'<row r="1"><c r="A1" t="inlineStr"><is><t>Ledger 2025</t></is></c>'
                            f'<c r="{o}1" t="inlineStr"><is><t>Open items</t></is></c>'
                            f'<c r="{col_letter(col_index(o) + 2)}1" s="1"><v>45747</v></c>'
                            f'<c r="{last}1" t="b"><v>1</v></c></row>'])


def test_rows_above_the_header_with_cells_in_the_computed_columns(refreshed, tmp_path, monkeypatch, tmp, kit):
    o = col_letter(first_ours(refreshed))
    book = rewrite(kit, refreshed, tmp_path / "book.xlsx", lambda x: above_the_header(x, o))
    with copy_of(book, monkeypatch) as (_, copy):
        assert copy.cuts["Invoices"] == (1, col_index(o) - 1)
        title, header = copy.heads["Invoices"]
        assert title == ("Open items", "", 45747.0, "", "", "", "", "", "", True) and header[0] == "Paid"
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}
    data = reader.read_book(book)
    assert data.layouts["Invoices"].header_row == 2
    assert data.tables["Invoices"].frame["row"].iloc[0] == 3


#: Cells a title row above the header may hold, given its row and column letter.
TITLE_CELLS = (
    lambda r, c: f'<c r="{c}{r}" t="inlineStr"><is><t>Note {r}{c}</t></is></c>',
    lambda r, c: f'<c r="{c}{r}"><v>{r}.5</v></c>',
    lambda r, c: f'<c r="{c}{r}" s="1"><v>45000</v></c>',  # a date
    lambda r, c: f'<c r="{c}{r}" t="b"><v>0</v></c>',
    lambda r, c: f'<c r="{c}{r}" s="2"/>',
    lambda r, c: f'<c r="{c}{r}" t="inlineStr"><is><t>Paid</t></is></c>',  # a computed column's title
    lambda r, c: f'<c r="{c}{r}" t="inlineStr"><is><t>InvoiceNo</t></is></c>',  # a ledger field's
)


@pytest.mark.parametrize("seed", range(8))
def test_random_title_rows_read_the_same_cut_or_whole(refreshed, tmp_path, monkeypatch, tmp, kit, seed):
    rng = random.Random(seed)
    o, n = first_ours(refreshed), rng.randint(1, 3)

    titles = [f'<row r="{r}">' + "".join(rng.choice(TITLE_CELLS)(r, col_letter(c))
                                         for c in sorted(rng.sample(range(1, o + 14), rng.randint(0, 5)))) + "</row>"
              for r in range(1, n + 1)]
    book = rewrite(kit, refreshed, tmp_path / "book.xlsx", lambda x: under_titles(x, titles))
    if seed % 3 == 0:  # the header's titles (now on row n + 1) stay inline; the first row's go shared
        book = shared(kit, book, tmp_path / "shared.xlsx", runs)
    assert "Customers" in cut_and_whole(book, monkeypatch, tmp)


@pytest.mark.parametrize("beside", [False, True], ids=["one thread", "other sheets on a second thread"])
def test_a_cut_other_than_the_readers_is_read_again_whole(refreshed, monkeypatch, tmp, beside):
    """Were the first rows ever read otherwise than calamine reads them, the cut the reader finds
    in calamine's cells would differ from the copy's: the sheet is read again from the file (on
    the second thread too, where the sheets but the largest are read)."""
    if beside:
        monkeypatch.setattr(reader, "BESIDE_BYTES", 0)
    made, again = strip.reading_copy, []

    def one_column_early(pkg, screening, rule, rows, **more):
        early = lambda head, table: (lambda at: at and (at[0], at[1] - 1))(rule(head, table))  # noqa: E731
        return made(pkg, screening, early, rows, **more)

    monkeypatch.setattr(strip, "reading_copy", one_column_early)
    whole_sheet = reader._whole_sheet
    monkeypatch.setattr(reader, "_whole_sheet", lambda *a: again.append(a[1]) or whole_sheet(*a))
    assert cut_and_whole(refreshed, monkeypatch, tmp) == {"Invoices", "Customers"}
    assert sorted(again) == ["Customers", "Invoices"]


def test_the_next_refresh_writes_the_same_workbook_cut_or_not(refreshed, tmp_path, monkeypatch, kit):
    books, cuts, made = {}, [], strip.reading_copy
    monkeypatch.setattr(reader, "reading_copy", lambda *a, **k: (lambda copy: cuts.append(set(copy.cuts)) or copy)(made(*a, **k)))
    for name, threshold in (("cut", 0), ("whole", NEVER)):
        monkeypatch.setattr(strip, "STRIP_FROM", threshold)
        book = Path(shutil.copy(refreshed, tmp_path / f"{name}.xlsx"))
        assert main(["refresh", str(book), "--as-of", "2025-04-01", "--quiet"]) == 0
        books[name] = kit.zip_parts(book)
    assert cuts[0] == {"Invoices", "Customers"} and cuts[-1] == set()
    assert books["cut"] == books["whole"]


@pytest.mark.libreoffice
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed (make test installs it)")
def test_a_ledger_saved_by_libreoffice_reads_the_same(refreshed, tmp_path, monkeypatch, tmp, kit):
    out = tmp_path / "lo"
    subprocess.run(["soffice", f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless", "--norestore",
                    "--convert-to", "xlsx", "--outdir", str(out), str(refreshed)],
                   check=True, capture_output=True, timeout=180)
    book = out / refreshed.name
    sheet = kit.zip_parts(book)[WorkbookPackage.open(book).sheet_part("Invoices")]
    assert b'<c r="A1" s="3" t="s">' in sheet  # its headers are shared strings, far into the part
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}


def shared(kit, src: Path, dest: Path, text=lambda s: f"<t>{s}</t>") -> Path:
    """``src`` with the Invoices header row's texts moved to a shared-strings part, after others."""
    parts = kit.zip_parts(src)
    part = WorkbookPackage.open(src).sheet_part("Invoices")
    strings = [f"<t>other {i}</t>" for i in range(300)]

    def header(row: re.Match) -> str:
        def one(c: re.Match) -> str:
            strings.append(text(c.group(3)))
            return f'<c r="{c.group(1)}"{c.group(2)} t="s"><v>{len(strings) - 1}</v></c>'
        return re.sub(r'<c r="([A-Z]+1)"([^>]*?) t="inlineStr"><is><t>([^<]*)</t></is></c>', one, row.group(0))

    parts[part] = re.sub(r'<row r="1".*?</row>', header, parts[part].decode(), count=1).encode()
    ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    parts["xl/sharedStrings.xml"] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="{ns}" '
                                     f'count="{len(strings)}" uniqueCount="{len(strings)}">'
                                     + "".join(f"<si>{s}</si>" for s in strings) + "</sst>").encode()
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(b"</Types>", (
        b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        b'spreadsheetml.sharedStrings+xml"/></Types>'))
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(b"</Relationships>", (
        b'<Relationship Id="rIdSst" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>'))
    kit.write_zip(dest, parts)
    return dest


def runs(s: str) -> str:
    """A text as two rich-text runs, the second bold."""
    return f"<r><t>{s[:3]}</t></r><r><rPr><b/><color rgb=\"FFFF0000\"/></rPr><t>{s[3:]}</t></r>"


@pytest.mark.parametrize("headers", ["shared", "shared runs", "inline runs", "inline escaped", "inline spaced"])
def test_headers_in_shared_strings_and_inline_strings_are_read_before_calamine(refreshed, tmp_path, monkeypatch,
                                                                             tmp, kit, headers):
    book = tmp_path / "book.xlsx"
    if headers == "shared":
        shared(kit, refreshed, book)
    elif headers == "shared runs":
        shared(kit, refreshed, book, runs)
    else:
        edit = {"inline runs": lambda m: f"<is>{runs(m.group(1))}</is>",
                "inline escaped": lambda m: "<is><t>" + "".join(f"&#{ord(ch)};" for ch in m.group(1)) + "</t></is>",
                "inline spaced": lambda m: f'<is><t xml:space="preserve">  {m.group(1)} </t></is>'}[headers]
        rewrite(kit, refreshed, book, lambda x: re.sub(r'<row r="1".*?</row>', lambda row: re.sub(
            r"<is><t>([^<]*)</t></is>", edit, row.group(0)), x, count=1))
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}


def test_the_cut_is_the_same_whatever_size_the_pieces_inflated(refreshed, tmp_path, monkeypatch, tmp, kit):
    book = shared(kit, refreshed, tmp_path / "book.xlsx", runs)
    monkeypatch.setattr(strip, "_HEAD_PIECE", 97)  # the first rows and shared strings over many pieces
    monkeypatch.setattr(strip, "_PIECE", 1009)  # and the sheet over many blocks, rows across pieces
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}
    monkeypatch.setattr(strip, "HEAD_LIMIT", 500)  # the first rows not found soon enough: read whole
    assert cut_and_whole(book, monkeypatch, tmp) == set()


# ----------------------------------------------------------------------------- read as before


F1 = '<c r="F1" s="3" t="inlineStr"><is><t>Currency</t></is></c>'
#: Edits of the Invoices sheet the cut does not take, given its XML and the first computed column.
UNUSUAL = {
    "no header": lambda x, o: re.sub(r'<row r="1".*?</row>',
                                     lambda m: re.sub(r"<t>[^<]*</t>", "<t>?</t>", m.group(0)), x, count=1),
    "a formula in the header": lambda x, o: x.replace(F1, '<c r="F1" t="str"><f>"Currency"</f><v>Currency</v></c>'),
    "an error in the first rows": lambda x, o: re.sub(r'<c r="E3"[^>]*>.*?</c>', '<c r="E3" t="e"><v>#N/A</v></c>', x),
    "a date as text in the header": lambda x, o: x.replace(F1, '<c r="F1" t="d"><v>2025-01-01</v></c>'),
    "an escape in the header": lambda x, o: x.replace("<t>Currency</t>", "<t>Curr_x0065_ncy</t>", 1),
    "a carriage return in the header": lambda x, o: x.replace("<t>Currency</t>", "<t>Currency\r\n</t>", 1),
    "phonetic text in the header": lambda x, o: x.replace("<t>Currency</t>",
                                                          '<t>Currency</t><rPh sb="0" eb="1"><t>カ</t></rPh>', 1),
    "a cell without reference in the header": lambda x, o: x.replace('<c r="B1" ', "<c ", 1),
    "a row without number in the first rows": lambda x, o: x.replace('<row r="3"', "<row", 1),
    "first rows out of order": lambda x, o: re.sub(r'(<row r="2".*?</row>)(<row r="3".*?</row>)', r"\2\1", x,
                                                   count=1),
    "a cell without reference below": lambda x, o: x.replace('<c r="B5" ', "<c ", 1),
    "an attribute before the reference": lambda x, o: re.sub(rf'<c r="({o}6)"( s="\d+")?', r'<c s="0" r="\1"', x,
                                                             count=1),
    "a leading zero in a reference": lambda x, o: re.sub(rf'<c r="{o}7"', f'<c r="{o}07"', x, count=1),
    "a comment among the rows": lambda x, o: x.replace('<row r="6"', '<!-- mine --><row r="6"', 1),
    "a processing instruction": lambda x, o: x.replace('<row r="6"', '<?mine <c r="A6"?><row r="6"', 1),
}


@pytest.mark.parametrize("unusual", list(UNUSUAL))
def test_what_the_cut_does_not_read_with_certainty_is_read_whole(refreshed, tmp_path, monkeypatch, tmp, kit, unusual):
    o = col_letter(first_ours(refreshed))
    book = rewrite(kit, refreshed, tmp_path / "book.xlsx", lambda x: UNUSUAL[unusual](x, o))
    assert kit.zip_parts(book) != kit.zip_parts(refreshed)
    assert cut_and_whole(book, monkeypatch, tmp) == {"Customers"}  # Invoices read whole, alike


def test_phonetic_shared_strings_are_read_whole(refreshed, tmp_path, monkeypatch, tmp, kit):
    book = shared(kit, refreshed, tmp_path / "book.xlsx", lambda s: f'<t>{s}</t><rPh sb="0" eb="1"><t>x</t></rPh>')
    assert cut_and_whole(book, monkeypatch, tmp) == {"Customers"}


def test_no_copy_when_no_temporary_file_can_be_made(refreshed, monkeypatch, tmp):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp / "missing"))
    assert cut_and_whole(refreshed, monkeypatch, tmp) == set()
    os.chmod(tmp, 0o500)
    try:
        monkeypatch.setattr(tempfile, "tempdir", str(tmp))
        if not os.access(tmp, os.W_OK):  # (root may write to a read-only folder)
            assert cut_and_whole(refreshed, monkeypatch, tmp) == set()
    finally:
        os.chmod(tmp, 0o700)


def test_no_copy_when_writing_it_fails_midway(refreshed, monkeypatch, tmp):
    stored = strip.stored_member

    def full(out, member, pieces):
        stored(out, member, pieces)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(strip, "stored_member", full)
    assert cut_and_whole(refreshed, monkeypatch, tmp) == set()


def test_the_copy_is_gone_when_calamine_fails(refreshed, monkeypatch, tmp):
    cells = reader._cells

    def failing(sheet, table, *cut):
        if table == "Invoices":
            raise RuntimeError("calamine gave up")
        return cells(sheet, table, *cut)

    monkeypatch.setattr(reader, "_cells", failing)
    with pytest.raises(BookError, match="calamine gave up"):
        read(refreshed, monkeypatch, cut=True)
    assert not list(tmp.iterdir())


def test_the_copy_is_gone_when_the_cut_fails(refreshed, monkeypatch, tmp):
    def failing(*args):
        raise MemoryError

    monkeypatch.setattr(strip, "_runs", failing)
    assert cut_and_whole(refreshed, monkeypatch, tmp) == set()


# ----------------------------------------------------------------------------- what calamine's grid loses


def test_rows_left_without_a_value_are_read_again_whole(refreshed, tmp_path, monkeypatch, tmp, kit):
    """A row holding only the tool's cells is gone from calamine's grid once they are cut; one
    where an error cell (a formula saved without a value) lay is read again from the file."""
    o = col_letter(first_ours(refreshed))
    extra = (f'<row r="30"><c r="{o}30"><v>1</v></c></row>'
             f'<row r="31"><c r="A31"><f>1+1</f></c><c r="{o}31"><v>2</v></c></row>')
    book = rewrite(kit, refreshed, tmp_path / "book.xlsx", lambda x: x.replace("</sheetData>", extra + "</sheetData>"))
    again = []
    whole_sheet = reader._whole_sheet
    monkeypatch.setattr(reader, "_whole_sheet", lambda *a: again.append(a[1]) or whole_sheet(*a))
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}
    assert again == ["Invoices"]
    data, _ = read(book, monkeypatch, cut=True)
    assert data.tables["Invoices"].frame["row"].iloc[-1] == 31  # the error cell's record


def test_a_ledger_whose_rows_hold_only_computed_cells(tmp_path, monkeypatch, tmp):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Invoices"
    ws.append(["InvoiceNo", "Amount", "Paid", "Open"])
    for i in range(5):
        ws.append([None, None, i, 2 * i])
    wb.save(tmp_path / "book.xlsx")
    again = []
    whole_sheet = reader._whole_sheet
    monkeypatch.setattr(reader, "_whole_sheet", lambda *a: again.append(a[1]) or whole_sheet(*a))
    assert cut_and_whole(tmp_path / "book.xlsx", monkeypatch, tmp) == {"Invoices"}
    assert again == ["Invoices"]


def test_a_sheet_the_screening_trimmed_goes_into_the_copy_as_trimmed(refreshed, tmp_path, monkeypatch, tmp, kit):
    stray = '<row r="40"><c r="Z40"><v>1</v></c></row></sheetData>'
    book = rewrite(kit, refreshed, tmp_path / "book.xlsx", lambda x: x.replace("</sheetData>", stray), "Receipts")
    monkeypatch.setattr(screen, "MAX_DENSE_CELLS", 200)
    pkg = WorkbookPackage.open(book)
    assert screen.screen_book(pkg).sheets["Receipts"].trimmed is not None
    assert screen.screen_book(pkg).sheets["Invoices"].trimmed is None
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}


def test_a_sheet_with_a_namespace_prefix(refreshed, tmp_path, monkeypatch, tmp, kit):
    def prefixed(x: str) -> str:
        x = re.sub(r"<(/?)(?![?!])([A-Za-z])", r"<\1x:\2", x)
        return x.replace('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
                         'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"', 1)

    book = rewrite(kit, refreshed, tmp_path / "book.xlsx", prefixed)
    assert b"<x:row " in kit.zip_parts(book)[WorkbookPackage.open(book).sheet_part("Invoices")]
    assert cut_and_whole(book, monkeypatch, tmp) == {"Invoices", "Customers"}


# ----------------------------------------------------------------------------- the cut itself


def _reference(block: bytes, cut) -> list[tuple[int, int]]:
    """The runs to cut, row by row with patterns: the last cells of each row that lie in or right
    of the first column cut (the header's row and those above it too), up to the row's end tag."""
    p = re.escape(cut.p)
    found = []
    for row in re.finditer(rb"<" + p + rb"row\b[^>]*?(?<!/)>(.*?)</" + p + rb"row>", block, re.S):
        cells = [(row.start(1) + m.start(), col_index(m.group(1)), int(m.group(2)))
                 for m in re.finditer(rb"<" + p + rb'c r="([A-Z]+)([0-9]+)"', row.group(1))]
        k = len(cells)
        while k and cells[k - 1][1] >= cut.first_col:
            k -= 1
        if k < len(cells):
            found.append((cells[k][0], row.end(1)))
    return found


def _sheet(rng: random.Random, p: str) -> str:
    rows, r = [], 0
    for _ in range(rng.randint(0, 12)):
        r += rng.randint(1, 3) if rng.random() < 0.8 else rng.randint(50, 2000)
        if rng.random() < 0.1:
            rows.append(f'<{p}row r="{r}"/>')
            continue
        cols = sorted(rng.sample(range(1, 40), rng.randint(0, 8))) + ([16384, 703] if rng.random() < 0.05 else [])
        if rng.random() < 0.15:
            rng.shuffle(cols)  # a user's cell after the tool's, say
        cells = []
        for c in cols:
            ref = f"{col_letter(c)}{r}"
            cells.append(rng.choice([
                f'<{p}c r="{ref}" s="2"/>', f'<{p}c r="{ref}"><{p}v>{c}</{p}v></{p}c>',
                f'<{p}c r="{ref}" t="inlineStr"><{p}is><{p}r><{p}rPr><{p}color rgb="FF0000"/></{p}rPr>'
                f'<{p}t>&lt;c r="A1"&gt;</{p}t></{p}r></{p}is></{p}c>',
                f'<{p}c r="{ref}" t="s">\n <{p}v>3</{p}v></{p}c>']))
        tail = rng.choice(["", " ", f"<{p}extLst><{p}ext uri=\"x\"/></{p}extLst>"])
        rows.append(f'<{p}row r="{r}" spans="1:9">' + rng.choice(["", "\n"]).join(cells) + tail + f"</{p}row>")
    return f"<{p}sheetData>" + "".join(rows) + f"</{p}sheetData><{p}pageMargins/>"


@pytest.mark.parametrize("p", ["", "x:"])
def test_the_cut_agrees_with_reading_row_by_row(p):
    rng = random.Random(7)
    for _ in range(1500):
        xml = _sheet(rng, p).encode()
        cut = strip._Cut(rng.randint(1, 10), rng.randint(1, 30), p.encode())
        s, e = xml.index(b">") + 1, xml.rindex(b"</" + p.encode() + b"sheetData>")
        starts, stops = strip._runs(xml, s, e, cut)
        assert list(zip(starts.tolist(), stops.tolist())) == _reference(xml, cut)

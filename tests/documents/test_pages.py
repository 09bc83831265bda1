"""The PDF page layout (``xl_ar.documents.pages``): cells where they were asked for, page breaks
with "page n of N" footers, text cut to its cell, the same pages as the same bytes, and the
streams deflated as the module says."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.documents import pages
from xl_ar.documents.fonts import find_cjk_font, own_cut

pytestmark = pytest.mark.skipif(find_cjk_font() is None, reason="no CJK font: install fonts-noto-cjk")
needs_poppler = pytest.mark.skipif(not shutil.which("pdftotext"), reason="needs poppler-utils")

CHARS = set("对账单客户余额第页共，abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-()/…")


@pytest.fixture(scope="module")
def faces():
    with own_cut(find_cjk_font(), CHARS) as cut:
        yield cut


def layout(faces, rows: int = 120) -> pages.Pages:
    pdf = pages.Pages(*faces, margins=12, bottom=14,
                      footer=(10, "ST-1", lambda n, total: f"第 {n} 页，共 {total} 页"))
    pdf.font(13, "B")
    pdf.cell(0, 8, "对账单", align="C", newline=True)
    pdf.font(8)
    for k in range(rows):
        pdf.cell(40, 5, f"row {k}", border="B")
        pdf.cell(30, 5, f"{k * 1000:,}.00", align="R", border="B", newline=True)
    return pdf


def texts(pdf: pages.Pages, page: int = 0) -> list[tuple]:
    return [op for op in pdf._pages[page] if op[0] == "text"]


def test_cells_are_aligned_in_their_box_and_the_cursor_moves_as_asked(faces):
    pdf = pages.Pages(*faces, margins=12, bottom=14)
    pdf.font(10)
    pdf.cell(50, 6, "left")
    assert (pdf.x, pdf.y) == (62, 12)
    pdf.cell(50, 6, "right", align="R")
    pdf.cell(50, 6, "centre", align="C", newline=True)
    assert (pdf.x, pdf.y) == (12, 18)
    pdf.cell(0, 6, "to the margin", border=1, fill=True)
    left, right, centre, wide = texts(pdf)
    assert left[1] == 12 + pages.CELL_MARGIN
    assert right[1] + pdf.width("right") == pytest.approx(112 - pages.CELL_MARGIN)
    assert centre[1] + pdf.width("centre") / 2 == pytest.approx(137)
    box = [op for op in pdf._pages[0] if op[0] == "box"][0]
    assert box[1:5] == (12, 18, 210 - 24, 6) and box[6] is True  # a cell of width 0 reaches the right margin
    # the text's baseline sits in the middle of the cell, lowered by 0.3 of the font's size
    assert left[2] == pytest.approx(12 + 3 + 0.3 * 10 / pages.PT)


def test_a_cell_past_the_bottom_margin_starts_a_page_at_the_same_x(faces):
    pdf = pages.Pages(*faces, margins=12, bottom=14)
    pdf.font(8)
    pdf.y = 297 - 14 - 4
    pdf.x = 40
    assert pdf.will_break(5) and not pdf.will_break(4)
    pdf.cell(20, 5, "next page")
    assert pdf.page_no == 2 and texts(pdf, 1)[0][1] == 40 + pages.CELL_MARGIN and pdf.y == 12


def test_text_too_wide_for_its_cell_is_cut_with_an_ellipsis(faces):
    pdf = pages.Pages(*faces, margins=12, bottom=14)
    pdf.font(8)
    cut = pdf.fit("abcdefghijklmnopqrstuvwxyz" * 3, 30)
    assert cut.endswith("…") and pdf.width(cut) <= 30 - 1.5 < pdf.width(cut[:-1] + "xx…")
    assert pdf.fit("abc", 30) == "abc"


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet="ab对账 W.,0", max_size=60), st.floats(1.0, 60.0))
def test_fit_keeps_the_longest_start_that_fits_with_its_ellipsis(faces, text, w):
    pdf = pages.Pages(*faces, margins=12, bottom=14)
    pdf.font(8)
    got = pdf.fit(text, w)
    if pdf.width(text) <= w - 1.5:
        assert got == text
    else:  # what cutting one character at a time from the end finds
        k = len(text)
        while k and pdf.width(text[:k] + "…") > w - 1.5:
            k -= 1
        assert got == text[:k] + "…"


@needs_poppler
def test_every_page_has_its_footer_with_the_page_count(faces, tmp_path):
    pdf = layout(faces)
    assert pdf.page_no == 3
    data = pdf.pdf(title="对账单 ST-1", author="演示", created=dt.date(2026, 10, 31))
    (tmp_path / "p.pdf").write_bytes(data)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "p.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    got = text.split("\f")[:3]
    for n, page in enumerate(got, 1):
        assert f"第 {n} 页，共 3 页" in page and "ST-1" in page
    assert "row 0" in got[0] and "row 119" in got[2] and "119,000.00" in got[2]
    info = subprocess.run(["pdfinfo", str(tmp_path / "p.pdf")], capture_output=True, text=True, check=True).stdout
    assert re.search(r"Title:\s+对账单 ST-1\n", info) and re.search(r"Subject:\s+对账单 ST-1\n", info)
    assert re.search(r"Author:\s+演示\n", info) and re.search(r"Creator:\s+xl-ar\n", info) and re.search(r"Pages:\s+3\n", info)


def test_the_same_pages_are_the_same_bytes_deflated_at_the_documented_level(faces):
    first = layout(faces).pdf(title="t", author="a", created=dt.date(2026, 10, 31))
    assert layout(faces).pdf(title="t", author="a", created=dt.date(2026, 10, 31)) == first
    assert b"D:20261031000000+00'00'" in first  # the creation date given, not the clock's
    streams = re.findall(rb"/Filter \[ /FlateDecode \] /Length (\d+)[^>]*>>\s*stream\r?\n", first)
    assert len(streams) >= 5 and b"ASCII85Decode" not in first
    for match in re.finditer(rb"/Length (\d+)[^>]*>>\s*stream\r?\n", first):
        body = first[match.end():match.end() + int(match.group(1))]
        assert zlib.compress(zlib.decompress(body), pages.DEFLATE_LEVEL) == body


@needs_poppler
def test_more_distinct_characters_than_one_font_subset_holds_all_read_back(tmp_path):
    """ReportLab embeds a font as subsets of 256 characters: a page drawing 600 distinct
    characters embeds three or more, and every character reads back as drawn."""
    many = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 600))
    with own_cut(find_cjk_font(), set(many)) as cut:
        pdf = pages.Pages(*cut, margins=12, bottom=14)
        pdf.font(9)
        pdf.paragraph(many, 5)
        assert not pdf.missing()
        (tmp_path / "many.pdf").write_bytes(pdf.pdf(title="t", author="a", created=dt.date(2026, 1, 1)))
    text = subprocess.run(["pdftotext", str(tmp_path / "many.pdf"), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "".join(text.split()) == many
    faces = subprocess.run(["pdffonts", str(tmp_path / "many.pdf")], capture_output=True, text=True,
                           check=True).stdout.splitlines()[2:]
    assert len(faces) >= 3 and all("yes yes yes" in line for line in faces)


def test_a_font_whose_licence_forbids_embedding_is_refused_by_name(tmp_path, monkeypatch):
    """A font marked "restricted licence" (OS/2 fsType 2) must not be embedded: the PDF is not
    made, and the error names the font and what to do, whichever document asked for it."""
    import dataclasses

    from fontTools.ttLib import TTFont

    from xl_ar.documents import fonts, pdf as pdf_mod
    from xl_ar.documents.letterpdf import render_letter_pdf
    from xl_ar.documents.statements import TEXT

    with own_cut(find_cjk_font(), CHARS | set("".join(map(str, TEXT["en"].values())))) as (regular, _):
        font = TTFont(regular[0])
        font["OS/2"].fsType = 2
        font.save(tmp_path / "restricted.ttf")
    monkeypatch.setenv("XL_AR_CJK_FONT", str(tmp_path / "restricted.ttf"))
    with pytest.raises(pdf_mod.PdfError, match=r"restricted\.ttf: its licence does not allow embedding it.*XL_AR_CJK_FONT"):
        render_letter_pdf("Demand\n\nPay now.", title="t", author="a", date=dt.date(2026, 1, 1))
    statement = _statement()
    with pytest.raises(pdf_mod.PdfError, match=r"restricted\.ttf: its licence does not allow embedding it"):
        pdf_mod.render_statement_pdf(dataclasses.replace(statement, lang="en"), engine="reportlab")
    with fonts.BatchFonts([statement], "en") as batch:  # a batch's cut is refused alike
        with pytest.raises(pdf_mod.PdfError, match="licence"):
            pdf_mod.render_statement_pdf(statement, "en", engine="reportlab", batch=batch)


def _statement():
    """A one-line statement in English."""
    from xl_ar.documents.statements import Statement, StatementLine, StatementSection

    line = StatementLine(date=dt.date(2026, 10, 3), kind="invoice", doc_no="INV-1", description="goods", reference="",
                         due_date=dt.date(2026, 11, 2), debit_minor=12345, credit_minor=0, balance_minor=12345, row=2,
                         disputed=False)
    section = StatementSection(currency="CNY", exp=2, opening_minor=0, lines=(line,), closing_minor=12345,
                               ledger_minor=12345, aging_minor=(12345, 0, 0, 0, 0), open_minor=12345,
                               unapplied_minor=0, disputed_minor=0)
    return Statement(statement_id="ST-C1", customer_id="C1", customer_name="Acme", contact="", email="",
                     company_en="Demo Co", company_zh="", period_from=dt.date(2026, 10, 1),
                     period_to=dt.date(2026, 10, 31), lang="en", aging_edges=(30, 60, 90), aging_basis="due",
                     sections=(section,))


def test_a_font_that_is_not_there_is_named_in_the_error(tmp_path, monkeypatch):
    from xl_ar.documents.letterpdf import render_letter_pdf
    from xl_ar.documents.pdf import PdfError

    monkeypatch.setenv("XL_AR_CJK_FONT", str(tmp_path / "gone.ttf"))
    with pytest.raises(PdfError, match=r"gone\.ttf: it cannot be read \(No such file or directory\).*XL_AR_CJK_FONT"):
        render_letter_pdf("Demand\n\nPay now.", title="t", author="a", date=dt.date(2026, 1, 1))

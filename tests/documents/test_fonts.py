"""The font cut of a batch of PDFs: TrueType outlines for a batch large enough to win the
conversion back, the same glyphs, widths and character map as the CFF cut, and the same text
on the page."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
from fontTools.pens.boundsPen import BoundsPen
from fontTools.ttLib import TTFont

from xl_ar.documents import fonts
from xl_ar.documents.letterpdf import letter_chars, letter_heading, render_letter_pdf

pytestmark = pytest.mark.skipif(fonts.find_cjk_font() is None, reason="no CJK font: install fonts-noto-cjk")

LETTER = ("催款函\n\n致：北京恒通机电有限公司\n日期：2026年11月15日\n\n"
          "经我司核对，截至2026年11月15日，贵司尚有以下款项逾期未付，最长已逾期 31 天：\n"
          "- 发票 INV00013462（到期日 2026年10月15日）：未付金额 CNY 12,345.67\n"
          "请于收到本函后七日内付清。Harbor & Co. (ref 8841) owes GBP 5,000.00.\n")


def _bounds(font: TTFont, name: str) -> tuple[float, ...] | None:
    pen = BoundsPen(font.getGlyphSet())
    font.getGlyphSet()[name].draw(pen)
    return pen.bounds


def test_a_cut_given_truetype_outlines_keeps_every_glyph_its_width_and_its_shape(tmp_path):
    face = fonts.find_cjk_font()[0]
    chars = set(LETTER)
    cff = TTFont(fonts._cut_font(face, chars, tmp_path / "cff.otf")[0])
    ttf = TTFont(fonts._cut_font(face, chars, tmp_path / "ttf.ttf", quadratic=True)[0])
    if "CFF " not in cff:
        pytest.skip("this machine's CJK font has TrueType outlines already")
    assert "glyf" in ttf and "CFF " not in ttf and ttf.sfntVersion == "\x00\x01\x00\x00"
    assert ttf.getGlyphOrder() == cff.getGlyphOrder()
    assert ttf.getBestCmap() == cff.getBestCmap()
    assert ttf["hmtx"].metrics == cff["hmtx"].metrics  # the same advance for every glyph
    drawn = {cff.getBestCmap()[ord(c)] for c in chars if not c.isspace()}
    assert len(drawn) > 60
    for name in drawn:  # each outline where it was, within the conversion's tolerance
        a, b = _bounds(cff, name), _bounds(ttf, name)
        assert a is not None and b is not None, name
        assert max(abs(x - y) for x, y in zip(a, b)) <= fonts._MAX_ERROR + 1, (name, a, b)
    # the font's boxes and counts recomputed from the new outlines, so a reader trusts them
    assert ttf["maxp"].numGlyphs == len(ttf.getGlyphOrder()) and ttf["maxp"].maxPoints > 0
    boxes = [_bounds(ttf, n) for n in drawn]
    assert ttf["head"].xMin <= min(b[0] for b in boxes) and ttf["head"].yMax >= max(b[3] for b in boxes)


def test_only_a_batch_with_documents_enough_is_converted():
    many = [f"{LETTER}{i}" for i in range(20)]
    with fonts.BatchFonts(extra=many) as batch:
        assert batch.documents == 20 and len(batch.chars) <= fonts.GLYPHS_PER_DOCUMENT * 20
        assert "glyf" in TTFont(batch.fonts_for(set(LETTER))[0][0])
    wide = LETTER + "".join(map(chr, range(0x4E00, 0x4E00 + 100)))  # one letter of ~190 characters
    with fonts.BatchFonts(extra=[wide]) as alone:
        assert alone.documents == 1 and len(alone.chars) > fonts.GLYPHS_PER_DOCUMENT
        assert "glyf" not in TTFont(alone.fonts_for(set(LETTER))[0][0])


@pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"), reason="needs poppler-utils")
def test_a_letter_drawn_from_truetype_outlines_reads_as_one_drawn_from_the_font_itself(tmp_path):
    letters = [LETTER.replace("31", str(d)) for d in range(30, 60)]
    texts = {}
    with fonts.BatchFonts(extra=[letter_chars(x, "催款函", "id") for x in letters],
                          bold_extra=[letter_heading(x) for x in letters]) as batch:
        assert "glyf" in TTFont(batch.fonts_for(set(LETTER), set("催款函"))[0][0])
        for name, b in (("batch", batch), ("alone", None)):
            data = render_letter_pdf(LETTER, title="催款函", author="", date=dt.date(2026, 11, 15), footer="id", batch=b)
            (tmp_path / f"{name}.pdf").write_bytes(data)
            texts[name] = subprocess.run(["pdftotext", "-layout", str(tmp_path / f"{name}.pdf"), "-"],
                                         capture_output=True, text=True, check=True).stdout
    kinds = subprocess.run(["pdffonts", str(tmp_path / "batch.pdf")], capture_output=True, text=True, check=True).stdout
    assert kinds.count("CID TrueType") == 2 and "yes yes yes" in kinds  # embedded, subset, with its Unicode map
    assert texts["batch"] == texts["alone"]
    for line in filter(str.strip, LETTER.splitlines()):
        assert line.strip().replace(" ", "") in texts["batch"].replace(" ", ""), line

"""The font cuts PDFs are drawn from: TrueType outlines, the same glyphs, widths and character
map as the font itself, and the same text on the page from a batch's cut as from a letter's own."""

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
    whole = TTFont(face[0], fontNumber=face[1], lazy=True)
    ttf = TTFont(fonts._cut_font(face, chars, tmp_path / "ttf.ttf")[0])
    if "CFF " not in whole:
        pytest.skip("this machine's CJK font has TrueType outlines already")
    assert "glyf" in ttf and "CFF " not in ttf and ttf.sfntVersion == "\x00\x01\x00\x00"
    cmap, own = whole.getBestCmap(), ttf.getBestCmap()
    drawn = {cmap[ord(c)] for c in chars if not c.isspace()}
    assert len(drawn) > 60
    shown = [c for c in chars if ord(c) in cmap]  # (a line break has no glyph)
    assert {c: own[ord(c)] for c in shown} == {c: cmap[ord(c)] for c in shown}  # the same glyph for each
    for name in drawn:  # the same advance, each outline where it was within the conversion's tolerance
        assert ttf["hmtx"][name] == whole["hmtx"][name]
        a, b = _bounds(whole, name), _bounds(ttf, name)
        assert a is not None and b is not None, name
        assert max(abs(x - y) for x, y in zip(a, b)) <= fonts._MAX_ERROR + 1, (name, a, b)
    # the font's boxes and counts recomputed from the new outlines, so a reader trusts them
    assert ttf["maxp"].numGlyphs == len(ttf.getGlyphOrder()) and ttf["maxp"].maxPoints > 0
    boxes = [_bounds(ttf, n) for n in drawn]
    assert ttf["head"].xMin <= min(b[0] for b in boxes) and ttf["head"].yMax >= max(b[3] for b in boxes)


def test_every_cut_has_truetype_outlines():
    with fonts.BatchFonts(extra=[LETTER]) as batch:
        regular, bold = batch.fonts_for(set(LETTER))
        assert "glyf" in TTFont(regular[0]) and "glyf" in TTFont(bold[0])
    with fonts.own_cut(fonts.find_cjk_font(), set(LETTER)) as (regular, bold):
        assert "glyf" in TTFont(regular[0]) and "glyf" in TTFont(bold[0])


@pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdffonts"), reason="needs poppler-utils")
def test_a_letter_drawn_from_truetype_outlines_reads_as_one_drawn_from_the_font_itself(tmp_path):
    letters = [LETTER.replace("31", str(d)) for d in range(30, 60)]
    texts = {}
    with fonts.BatchFonts(extra=[letter_chars(x, "催款函", "id") for x in letters],
                          bold_extra=[letter_heading(x) for x in letters]) as batch:
        for name, b in (("batch", batch), ("alone", None)):
            data = render_letter_pdf(LETTER, title="催款函", author="", date=dt.date(2026, 11, 15), footer="id", batch=b)
            (tmp_path / f"{name}.pdf").write_bytes(data)
            texts[name] = subprocess.run(["pdftotext", "-layout", str(tmp_path / f"{name}.pdf"), "-"],
                                         capture_output=True, text=True, check=True).stdout
    kinds = subprocess.run(["pdffonts", str(tmp_path / "batch.pdf")], capture_output=True, text=True, check=True).stdout
    faces = [line for line in kinds.splitlines() if "TrueType" in line]
    assert len(faces) == 2 and all("yes yes yes" in line for line in faces)  # embedded, subset, with its Unicode map
    assert texts["batch"] == texts["alone"]
    for line in filter(str.strip, LETTER.splitlines()):
        assert line.strip().replace(" ", "") in texts["batch"].replace(" ", ""), line

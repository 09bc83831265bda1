"""A letter (the dunning letter 催款函, the lawyer's-letter draft) as a PDF with its CJK font embedded.

The letter's text part is what the customer reads in the e-mail; the PDF carries the same
words on an A4 page, to print, sign and stamp, or to file as evidence. It is drawn with fpdf2
from a CJK font found on the machine (see :func:`xl_ar.documents.fonts.find_cjk_font`), cut down
to the letter's characters first (subsetting a whole CJK font takes seconds; the cut font is
small), so the PDF embeds only the glyphs it uses and prints the same everywhere.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from xl_ar.documents.fonts import BatchFonts, _cut_font, find_cjk_font, keep_bounds
from xl_ar.documents.pdf import PdfError, paragraph

_MARGIN = 20.0
_LINE_H = 6.0


def letter_chars(text: str, title: str, footer: str = "") -> str:
    """Every character the letter's PDF draws (for a :class:`BatchFonts` of many letters)."""
    return text + title + footer + "0123456789/ "


def letter_heading(text: str) -> str:
    """The letter's heading: its first non-blank line, the only text drawn in bold."""
    return next((line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()), "")


def render_letter_pdf(text: str, *, title: str, author: str, date: dt.date, footer: str = "",
                      batch: BatchFonts | None = None) -> bytes:
    """The letter's text on A4 pages, the first line as its heading.

    Args:
        text: the letter (the e-mail's text part); its first non-blank line is the heading.
        title: the PDF's title (document properties).
        author: the company (document properties).
        date: the letter's date: the PDF's creation date, so the same letter gives the same bytes.
        footer: printed small at the foot of each page (the message id), with the page number.
        batch: the run's fonts cut once for all its letters (``BatchFonts(extra=...)`` with each
            letter's :func:`letter_chars`, ``bold_extra=`` its :func:`letter_heading`); a letter
            with a character outside it cuts its own.

    Returns:
        The PDF bytes.

    Raises:
        PdfError: no CJK font on this machine (the message says what to install).
    """
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    found = find_cjk_font()
    if found is None:
        raise PdfError("no CJK font found for the letter's PDF: install fonts-noto-cjk, or set XL_AR_CJK_FONT")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    chars = set(letter_chars(text, title, footer))
    with tempfile.TemporaryDirectory(prefix="xl-ar-letter-") as tmp:
        small = batch.fonts_for(chars, set(letter_heading(text))) if batch is not None else None
        if small is not None:
            regular, bold = small[0], small[1] or small[0]
        else:
            try:
                regular = _cut_font(found[0], chars, Path(tmp) / "regular.otf")
                bold = _cut_font(found[1], chars, Path(tmp) / "bold.otf") if found[1] else regular
            except Exception:  # a font fontTools cannot cut: draw from the whole font
                regular, bold = found[0], found[1] or found[0]

        class _Doc(FPDF):
            def footer(self) -> None:
                self.set_y(-12)
                self.set_font("cjk", "", 7)
                self.set_text_color(110, 110, 110)
                self.cell(0, 4, footer, new_x=XPos.LMARGIN, new_y=YPos.TOP)
                self.cell(0, 4, f"{self.page_no()}/{{nb}}", align="R")
                self.set_text_color(0, 0, 0)

        pdf = _Doc(orientation="P", unit="mm", format="A4")
        pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
        pdf.set_auto_page_break(True, margin=18)
        pdf.add_font("cjk", "", regular[0], collection_font_number=regular[1])
        pdf.add_font("cjk", "B", bold[0], collection_font_number=bold[1])
        keep_bounds(pdf)
        pdf.set_title(title)
        pdf.set_author(author or "xl-ar")
        pdf.set_creator("xl-ar")
        pdf.set_creation_date(dt.datetime.combine(date, dt.time(0, 0), tzinfo=dt.timezone.utc))
        pdf.add_page()
        if lines:
            pdf.set_font("cjk", "B", 16)
            pdf.cell(0, 12, lines.pop(0).strip(), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.ln(2)
        pdf.set_font("cjk", "", 10.5)
        for line in lines:
            if not line.strip():
                pdf.ln(_LINE_H * 0.6)
                continue
            paragraph(pdf, line.rstrip(), _LINE_H, widths=batch.widths if small is not None else None)
        return bytes(pdf.output())

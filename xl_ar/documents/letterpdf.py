"""A letter (the dunning letter 催款函, the lawyer's-letter draft) as a PDF with its CJK font embedded.

The letter's text part is what the customer reads in the e-mail; the PDF carries the same
words on an A4 page, to print, sign and stamp, or to file as evidence. It is drawn by
ReportLab (:class:`xl_ar.documents.pages.Pages`) from a CJK font found on the machine (see
:func:`xl_ar.documents.fonts.find_cjk_font`), cut down to the letter's characters, or to a
run's letters' (parsing a whole CJK font takes a second; the cut is small); the PDF embeds only
the glyphs it uses and prints the same everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from xl_ar.documents.fonts import BatchFonts, find_cjk_font, font_problem, own_cut
from xl_ar.documents.pages import FontError, Pages
from xl_ar.documents.pdf import PdfError

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
    found = find_cjk_font()
    if found is None:
        raise PdfError("no CJK font found for the letter's PDF: install fonts-noto-cjk, or set XL_AR_CJK_FONT")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)
    chars = set(letter_chars(text, title, footer))
    with contextlib.ExitStack() as stack:
        small = batch.fonts_for(chars, set(letter_heading(text))) if batch is not None else None
        try:
            regular, bold = (small[0], small[1] or small[0]) if small is not None else \
                stack.enter_context(own_cut(found, chars))
            pdf = Pages(regular, bold, margins=_MARGIN, bottom=18,
                        footer=(12, footer, lambda n, total: f"{n}/{total}"))
        except FontError as exc:
            raise PdfError(f"cannot make the letter's PDF from {font_problem(found, exc)}") from None
        if lines:
            pdf.font(16, "B")
            pdf.cell(0, 12, lines.pop(0).strip(), align="C", newline=True)
            pdf.ln(2)
        pdf.font(10.5)
        for line in lines:
            if not line.strip():
                pdf.ln(_LINE_H * 0.6)
                continue
            pdf.paragraph(line.rstrip(), _LINE_H, widths=batch.widths if small is not None else None)
        return pdf.pdf(title=title, author=author or "xl-ar", created=date)

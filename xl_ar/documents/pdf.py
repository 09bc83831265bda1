"""Statements as PDF, with Chinese text rendered properly.

Two engines, tried in this order by ``engine="auto"``:

1. **fpdf2** (pure Python) with a CJK font found on the machine (see ``xl_ar.documents.fonts``:
   Noto Sans CJK, Microsoft YaHei / SimHei on Windows, PingFang or Heiti on macOS, or the file
   named by ``XL_AR_CJK_FONT``). It needs no office suite, and the PDF embeds the subset of the
   glyphs it uses, so it prints the same everywhere. A run of many statements renders each from
   the font cut down once to the batch's characters (:class:`~xl_ar.documents.fonts.BatchFonts`);
   a statement needing a character outside it is rendered from the whole font. ReportLab was
   not chosen: its ``TTFont`` takes TrueType outlines only, and its built-in CID fonts
   (``STSong-Light``) are not embedded, so the reader's substitute font decides what the
   customer sees.
2. **LibreOffice** headless converting the statement's .xlsx, for a machine with no CJK font
   file fpdf2 can use (or without fpdf2). It prints the same workbook the customer gets.

When neither works, :class:`PdfError` says what to install.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from xl_ar.core.aging import AgingEdges
from xl_ar.documents.fonts import BatchFonts, find_cjk_font, keep_bounds
from xl_ar.documents.statement_xlsx import write_statement_xlsx
from xl_ar.documents.statements import TEXT, Statement, closing_in_words, confirm_lines, file_stem, fmt_money

SOFFICE_CANDIDATES = ("soffice", "libreoffice", "/usr/bin/soffice", "/opt/libreoffice/program/soffice",
                      "C:/Program Files/LibreOffice/program/soffice.exe",
                      "/Applications/LibreOffice.app/Contents/MacOS/soffice")
LIBREOFFICE_TIMEOUT = 180  # seconds: a first start with a fresh profile takes 5-20 s

# Layout (mm, A4 portrait): the lines table's columns and their alignment.
_MARGIN = 12.0
_COLS = (("date", 17, "L"), ("type", 19, "L"), ("doc", 21, "L"), ("desc", 31, "L"), ("due", 17, "L"),
         ("debit", 24, "R"), ("credit", 24, "R"), ("balance", 24, "R"), ("mark", 9, "C"))
_BOX = "[]"  # drawn as an empty square for the customer to tick (few CJK fonts have U+2610)
_ROW_H = 5.2
_SHADE = (221, 235, 247)


class PdfError(RuntimeError):
    """No engine can make the PDF here; the message says what to install."""


def find_soffice() -> str | None:
    """The LibreOffice executable, or None."""
    for c in SOFFICE_CANDIDATES:
        found = shutil.which(c) or (c if os.path.isfile(c) else None)
        if found:
            return found
    return None


def render_statement_pdf(statement: Statement, lang: str | None = None, *, engine: str = "auto",
                         batch: "BatchFonts | None" = None) -> bytes:
    """Render a statement to PDF.

    Args:
        statement: from ``build_statements``.
        lang: "zh" or "en" (default: the statement's).
        engine: "auto" (fpdf2 when a CJK font is found, else LibreOffice), "fpdf" or "libreoffice".
        batch: the run's :class:`BatchFonts` (fpdf2 only): a font already cut down to the
            batch's characters, which makes each statement several times faster to render.

    Returns:
        The PDF's bytes.

    Raises:
        PdfError: the engine asked for (or, for "auto", every engine) is not available.
    """
    lang = "zh" if (lang or statement.lang) == "zh" else "en"
    if engine not in ("auto", "fpdf", "libreoffice"):
        raise ValueError(f'engine must be "auto", "fpdf" or "libreoffice", not "{engine}"')
    why = []
    if engine in ("auto", "fpdf"):
        try:
            import fpdf  # noqa: F401
        except ImportError:
            why.append("fpdf2 is not installed (pip install fpdf2)")
        else:
            fonts = find_cjk_font()
            if fonts is not None:
                small = batch.fonts(statement, lang) if batch is not None else None
                rendered = _render_fpdf(statement, lang, small, strict=True) if small else None
                return rendered if rendered is not None else _render_fpdf(statement, lang, fonts)
            why.append("no Chinese font was found (install fonts-noto-cjk, or set XL_AR_CJK_FONT to a .ttf/.otf/.ttc)")
    if engine in ("auto", "libreoffice"):
        soffice = find_soffice()
        if soffice:
            return _render_libreoffice(statement, lang, soffice)
        why.append("LibreOffice (soffice) is not installed")
    raise PdfError("cannot make the PDF: " + "; ".join(why))


def write_statement_pdf(statement: Statement, path: str | Path, lang: str | None = None, *,
                        engine: str = "auto", batch: "BatchFonts | None" = None) -> Path:
    """Write a statement's PDF to ``path`` (see :func:`render_statement_pdf`); return the path."""
    path = Path(path)
    path.write_bytes(render_statement_pdf(statement, lang, engine=engine, batch=batch))
    return path


# ----------------------------------------------------------------------------- LibreOffice


def _render_libreoffice(statement: Statement, lang: str, soffice: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="xl-ar-pdf-") as tmp:
        src = write_statement_xlsx(statement, Path(tmp) / f"{file_stem(statement)}.xlsx", lang)
        # A private profile: a user's running LibreOffice would otherwise take the job and quit.
        profile = (Path(tmp) / "profile").as_uri()
        cmd = [soffice, f"-env:UserInstallation={profile}", "--headless", "--norestore",
               "--convert-to", "pdf", "--outdir", tmp, str(src)]
        try:
            run = subprocess.run(cmd, capture_output=True, text=True, timeout=LIBREOFFICE_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise PdfError(f"LibreOffice did not convert the statement within {LIBREOFFICE_TIMEOUT} s") from None
        out = src.with_suffix(".pdf")
        if run.returncode != 0 or not out.exists():
            raise PdfError(f"LibreOffice could not convert the statement: {(run.stderr or run.stdout).strip()[:300]}")
        return out.read_bytes()


# ----------------------------------------------------------------------------- fpdf2


def _render_fpdf(statement: Statement, lang: str, fonts, strict: bool = False) -> bytes | None:
    """The statement's PDF drawn with ``fonts``; None when ``strict`` and a glyph is missing."""
    from fpdf import FPDF
    from fpdf.enums import XPos, YPos

    t = TEXT[lang]
    (reg_path, reg_idx), bold = fonts

    class _Doc(FPDF):
        def footer(self) -> None:  # statement id and page n of N on every page
            self.set_y(-10)
            self.set_font("cjk", "", 7)
            self.set_text_color(110, 110, 110)
            self.cell(0, 4, statement.statement_id, new_x=XPos.LMARGIN, new_y=YPos.TOP)
            self.cell(0, 4, t["page"].format(n=self.page_no(), total="{nb}"), align="R")
            self.set_text_color(0, 0, 0)

    pdf = _Doc(orientation="P", unit="mm", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(True, margin=14)
    pdf.add_font("cjk", "", reg_path, collection_font_number=reg_idx)
    pdf.add_font("cjk", "B", bold[0] if bold else reg_path, collection_font_number=bold[1] if bold else reg_idx)
    keep_bounds(pdf)
    pdf.set_title(f"{t['title']} {statement.statement_id}")
    pdf.set_author(statement.company(lang) or "xl-ar")
    pdf.set_creator("xl-ar")
    # A fixed creation date: the same statement gives the same bytes (it is evidence).
    pdf.set_creation_date(dt.datetime.combine(statement.period_to, dt.time(0, 0), tzinfo=dt.timezone.utc))
    pdf.add_page()
    width = pdf.epw

    def font(size: float, style: str = "") -> None:
        pdf.set_font("cjk", style, size)

    def fit(text: str, w: float) -> str:
        """Cut text to the cell's width (an ellipsis shows it was cut)."""
        if pdf.get_string_width(text) <= w - 1.5:
            return text
        while text and pdf.get_string_width(text + "…") > w - 1.5:
            text = text[:-1]
        return text + "…"

    def line(cells, *, style: str = "", fill: bool = False, border: int | str = 0, h: float = _ROW_H) -> None:
        font(8, style)
        for (name, w, align), text in zip(_COLS, cells):
            x, y = pdf.get_x(), pdf.get_y()
            pdf.cell(w, h, "" if text == _BOX else fit(text, w), border=border, align=align, fill=fill)
            if text == _BOX:
                pdf.rect(x + w / 2 - 1.6, y + h / 2 - 1.6, 3.2, 3.2)
        pdf.ln(h)

    def summary(label: str, debit: str = "", credit: str = "", balance: str = "", mark: str = "",
                style: str = "B") -> None:
        """A row whose label spans the description column and the empty columns right of it."""
        font(8, style)
        pdf.cell(sum(w for _, w, _ in _COLS[:3]), _ROW_H, "")
        span = _COLS[3:5] if debit or credit else _COLS[3:7]
        pdf.cell(sum(w for _, w, _ in span), _ROW_H, label)
        values = [debit, credit, balance, mark] if debit or credit else [balance, mark]
        for (_, w, align), text in zip(_COLS[len(_COLS) - len(values):], values):
            pdf.cell(w, _ROW_H, text, align=align)
        pdf.ln(_ROW_H)

    def heads() -> None:
        pdf.set_fill_color(*_SHADE)
        labels = [t["date"], t["type"], t["doc"], t["desc"], t["due"], t["debit"], t["credit"], t["balance"],
                  "异议" if lang == "zh" else "Disp"]
        line(labels, style="B", fill=True, border=1, h=6)

    def need(h: float, repeat_heads: bool = False) -> None:
        if pdf.will_page_break(h):
            pdf.add_page()
            if repeat_heads:
                heads()

    font(15, "B")
    company = statement.company(lang)
    if company:
        pdf.cell(width, 8, company, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    font(13, "B")
    pdf.cell(width, 8, t["title"], align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    customer = f"{statement.customer_name} ({statement.customer_id})" if statement.customer_name else statement.customer_id
    for label, value in ((t["customer"], customer),
                         (t["period"], f"{statement.period_from:%Y-%m-%d} {t['to']} {statement.period_to:%Y-%m-%d}"),
                         (t["statement_no"], statement.statement_id)):
        font(9, "B")
        pdf.cell(28, 5.5, label)
        font(9)
        pdf.cell(width - 28, 5.5, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)

    kinds = {"invoice": t["invoice"], "credit": t["credit_note"], "receipt": t["receipt"]}
    day_before = statement.period_from - dt.timedelta(days=1)
    labels = AgingEdges(statement.aging_edges).labels(lang)
    basis = t["basis_invoice"] if statement.aging_basis == "invoice" else t["basis_due"]
    for sec in statement.sections:
        m = lambda v: fmt_money(v, sec.exp)  # noqa: E731
        need(30)
        font(11, "B")
        pdf.cell(width, 7, f"{t['currency']}: {sec.currency}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        heads()
        summary(t["opening"].format(date=f"{day_before:%Y-%m-%d}"), balance=m(sec.opening_minor))
        for x in sec.lines:
            need(_ROW_H, repeat_heads=True)
            desc = x.description or (t["for_invoice"].format(ref=x.reference) if x.reference else "")
            line([f"{x.date:%Y-%m-%d}", kinds[x.kind], x.doc_no, desc, f"{x.due_date:%Y-%m-%d}" if x.due_date else "",
                  m(x.debit_minor) if x.debit_minor else "", m(x.credit_minor) if x.credit_minor else "",
                  m(x.balance_minor), _BOX], border="B")
        if not sec.lines:
            summary(t["none"], style="")
        need(4 * _ROW_H)
        summary(t["totals"], m(sec.debit_minor), m(sec.credit_minor))
        summary(t["closing"].format(date=f"{statement.period_to:%Y-%m-%d}"), balance=m(sec.closing_minor))
        words = closing_in_words(sec, lang)
        if words:
            summary(f"{t['in_words']}：{words}", style="")
        summary(t["ledger"].format(date=f"{statement.period_to:%Y-%m-%d}"), balance=m(sec.ledger_minor),
                mark="✓" if sec.ties else "≠", style="")
        pdf.ln(2)
        need(6 + 2 * _ROW_H + 4 * _ROW_H)
        font(9, "B")
        pdf.cell(width, 6, t["aging"].format(date=f"{statement.period_to:%Y-%m-%d}", basis=basis),
                 new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        w = min(30.0, width / len(labels))
        font(8, "B")
        pdf.set_fill_color(*_SHADE)
        for label in labels:
            pdf.cell(w, _ROW_H, fit(label, w), border=1, align="C", fill=True)
        pdf.ln(_ROW_H)
        font(8)
        for v in sec.aging_minor:
            pdf.cell(w, _ROW_H, m(v), border=1, align="R")
        pdf.ln(_ROW_H + 1)
        rows = [(t["open_items"], sec.open_minor, ""), (t["unapplied"], -sec.unapplied_minor, ""),
                (t["net"], sec.closing_minor, "B")]
        if sec.disputed_minor:
            rows.append((t["in_dispute"], sec.disputed_minor, ""))
        for label, v, style in rows:
            font(8, style)
            pdf.cell(70, _ROW_H, label)
            pdf.cell(30, _ROW_H, m(v), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(4)

    need(100)  # the confirmation block stays on one page: it is signed as a whole
    font(11, "B")
    pdf.cell(width, 7, t["confirm_title"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    font(8.5)
    paragraph(pdf, t["confirm_text"], 4.5, width)
    pdf.ln(2)
    font(9, "B")
    for text in confirm_lines(statement, lang):
        paragraph(pdf, text, 5, width)
    pdf.ln(2)
    font(9, "B")
    pdf.cell(40, 7, t["confirmed"])
    font(9)
    for answer in (t["yes"], t["no"]):
        pdf.rect(pdf.get_x() + 1, pdf.get_y() + 1.9, 3.2, 3.2)
        pdf.cell(25, 7, "      " + answer)
    pdf.ln(7)
    for label, h in ((t["remarks"], 14), (t["signer"], 10), (t["seal"], 26), (t["sign_date"], 10)):
        font(9, "B")
        pdf.cell(40, h, label)
        pdf.cell(width - 40, h, "", border="B" if label != t["seal"] else 1, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)
    if strict and any(getattr(f, "missing_glyphs", None) for f in pdf.fonts.values()):
        return None
    return bytes(pdf.output())


#: Characters no line starts with: closing punctuation stays with what it follows (禁则).
_NO_LINE_START = frozenset("，。、；：？！）」』】》〉’”…—%,.;:?!)]}")
#: Characters no line ends with: opening punctuation goes with what follows it.
_NO_LINE_END = frozenset("（「『【《〈‘“([{")


def _cjk(ch: str) -> bool:
    """Whether a line may break before or after ``ch`` without a space (CJK characters and punctuation)."""
    return ch >= "\u2e80"


def broken(text: str, room: float, width: Any) -> list[str]:
    """A paragraph broken into lines no wider than ``room`` (a character's width: ``width(ch)``).

    A line breaks after a space (which goes with the break), or between two characters either
    of which is Chinese, Japanese or Korean (such text is broken anywhere), but not before closing
    punctuation, which stays at the end of its line, nor after opening punctuation, which goes
    with what follows it; a word wider than a whole line is broken where it must.
    """
    lines: list[str] = []
    n, start, i, x, brk = len(text), 0, 0, 0.0, -1
    while i < n:
        ch = text[i]
        if i > start and (ch == " " or ch not in _NO_LINE_START and text[i - 1] not in _NO_LINE_END
                          and (text[i - 1] == " " or _cjk(text[i - 1]) or _cjk(ch))):
            brk = i  # the line may end before this character
        w = width(ch)
        if x + w > room and i > start:
            cut = brk if brk > start else i
            lines.append(text[start:cut].rstrip(" "))
            start = cut
            while start < n and text[start] == " ":
                start += 1
            i, x, brk = start, 0.0, -1
            continue
        x += w
        i += 1
    if start < n:
        lines.append(text[start:])
    return lines


def paragraph(pdf: Any, text: str, h: float, w: float = 0, widths: dict[tuple, dict[str, float]] | None = None) -> None:
    """``text`` drawn as lines ``h`` high in a column ``w`` wide (0: to the right margin),
    left-aligned, each next line at the left margin (:func:`broken`). Each line is measured once:
    fpdf2's ``multi_cell`` measured a line again for every character added to it (40% of a
    letter's PDF), and justified Chinese lines by stretching their few spaces into wide gaps.

    ``widths``: each character's width measured so far, by the font and size it was measured
    in, for many paragraphs and documents drawn from the same font files (a batch's letters:
    :attr:`xl_ar.documents.fonts.BatchFonts.widths`); None measures afresh for this paragraph."""
    from fpdf.enums import XPos, YPos

    w = w or pdf.w - pdf.r_margin - pdf.get_x()
    font = pdf.current_font
    key = (str(getattr(font, "ttffile", "")), getattr(font, "collection_font_number", 0), pdf.font_family,
           pdf.font_style, pdf.font_size_pt, pdf.font_stretching, pdf.char_spacing, pdf.k)
    known: dict[str, float] = {} if widths is None else widths.setdefault(key, {})
    width = lambda ch: known.get(ch) or known.setdefault(ch, pdf.get_string_width(ch))  # noqa: E731
    for line in text.replace("\r\n", "\n").split("\n"):  # a line break in the text starts a line
        for part in broken(line, w - 2 * pdf.c_margin, width) or [""]:
            pdf.cell(w, h, part, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

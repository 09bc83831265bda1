"""Statements as PDF, with Chinese text rendered properly.

Two engines, tried in this order by ``engine="auto"``:

1. **ReportLab** (pure Python) drawing from a CJK font found on the machine (see
   ``xl_ar.documents.fonts``: Noto Sans CJK, Microsoft YaHei / SimHei on Windows, PingFang or
   Heiti on macOS, or the file named by ``XL_AR_CJK_FONT``), cut down to the characters drawn
   and given TrueType outlines. It needs no office suite, and the PDF embeds the glyphs it
   uses, so it prints the same everywhere. A run of many statements draws each from the font
   cut once for the batch (:class:`~xl_ar.documents.fonts.BatchFonts`); a statement needing a
   character outside it is drawn from a cut of its own. The layout is
   :class:`~xl_ar.documents.pages.Pages`.
2. **LibreOffice** headless converting the statement's .xlsx, for a machine with no CJK font
   file that can be cut and drawn from. It prints the same workbook the customer gets.

When neither works, :class:`PdfError` says what to install.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from xl_ar.core.aging import AgingEdges
from xl_ar.documents.fonts import BatchFonts, find_cjk_font, font_problem, own_cut, statement_chars
from xl_ar.documents.pages import FontError, Pages
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
        engine: "auto" (ReportLab when a CJK font is found, else LibreOffice), "reportlab" or
            "libreoffice".
        batch: the run's :class:`BatchFonts` (ReportLab only): the font already cut down to the
            batch's characters, instead of a cut for this statement alone.

    Returns:
        The PDF's bytes.

    Raises:
        PdfError: the engine asked for (or, for "auto", every engine) is not available.
    """
    lang = "zh" if (lang or statement.lang) == "zh" else "en"
    if engine not in ("auto", "reportlab", "libreoffice"):
        raise ValueError(f'engine must be "auto", "reportlab" or "libreoffice", not "{engine}"')
    why = []
    if engine in ("auto", "reportlab"):
        found = find_cjk_font()
        if found is None:
            why.append("no Chinese font was found (install fonts-noto-cjk, or set XL_AR_CJK_FONT to a .ttf/.otf/.ttc)")
        else:
            try:
                small = batch.fonts() if batch is not None else None
                rendered = _render_pages(statement, lang, small, strict=True) if small else None
                if rendered is None:  # alone, or a character outside the batch's cut
                    with own_cut(found, statement_chars(statement, lang)) as fonts:
                        rendered = _render_pages(statement, lang, fonts)
                return rendered
            except FontError as exc:
                why.append(font_problem(found, exc))
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


# ----------------------------------------------------------------------------- ReportLab


def _render_pages(statement: Statement, lang: str, fonts: tuple[tuple[str, int], tuple[str, int] | None],
                  strict: bool = False) -> bytes | None:
    """The statement's PDF drawn with ``fonts`` (TrueType outlines); None when ``strict`` and
    the fonts lack a character it draws."""
    t = TEXT[lang]
    regular, bold = fonts
    pdf = Pages(regular, bold or regular, margins=_MARGIN, bottom=14,
                footer=(10, statement.statement_id, lambda n, total: t["page"].format(n=n, total=total)))
    width = pdf.epw
    font = pdf.font

    def line(cells, *, style: str = "", fill: bool = False, border: int | str = 0, h: float = _ROW_H) -> None:
        font(8, style)
        for (name, w, align), text in zip(_COLS, cells):
            x, y = pdf.x, pdf.y
            pdf.cell(w, h, "" if text == _BOX else pdf.fit(text, w), border=border, align=align, fill=fill)
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
        pdf.fill_color(_SHADE)
        labels = [t["date"], t["type"], t["doc"], t["desc"], t["due"], t["debit"], t["credit"], t["balance"],
                  "异议" if lang == "zh" else "Disp"]
        line(labels, style="B", fill=True, border=1, h=6)

    def need(h: float, repeat_heads: bool = False) -> None:
        if pdf.will_break(h):
            pdf.add_page()
            if repeat_heads:
                heads()

    font(15, "B")
    company = statement.company(lang)
    if company:
        pdf.cell(width, 8, pdf.fit(company, width), align="C", newline=True)
    font(13, "B")
    pdf.cell(width, 8, t["title"], align="C", newline=True)
    pdf.ln(2)
    customer = f"{statement.customer_name} ({statement.customer_id})" if statement.customer_name else statement.customer_id
    for label, value in ((t["customer"], customer),
                         (t["period"], f"{statement.period_from:%Y-%m-%d} {t['to']} {statement.period_to:%Y-%m-%d}"),
                         (t["statement_no"], statement.statement_id)):
        font(9, "B")
        pdf.cell(28, 5.5, label)
        font(9)
        pdf.cell(width - 28, 5.5, pdf.fit(value, width - 28), newline=True)
    pdf.ln(3)

    kinds = {"invoice": t["invoice"], "credit": t["credit_note"], "receipt": t["receipt"]}
    day_before = statement.period_from - dt.timedelta(days=1)
    labels = AgingEdges(statement.aging_edges).labels(lang)
    basis = t["basis_invoice"] if statement.aging_basis == "invoice" else t["basis_due"]
    for sec in statement.sections:
        m = lambda v: fmt_money(v, sec.exp)  # noqa: E731
        need(30)
        font(11, "B")
        pdf.cell(width, 7, f"{t['currency']}: {sec.currency}", newline=True)
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
        pdf.cell(width, 6, t["aging"].format(date=f"{statement.period_to:%Y-%m-%d}", basis=basis), newline=True)
        w = min(30.0, width / len(labels))
        font(8, "B")
        pdf.fill_color(_SHADE)
        for label in labels:
            pdf.cell(w, _ROW_H, pdf.fit(label, w), border=1, align="C", fill=True)
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
            pdf.cell(30, _ROW_H, m(v), align="R", newline=True)
        pdf.ln(4)

    need(100)  # the confirmation block stays on one page: it is signed as a whole
    font(11, "B")
    pdf.cell(width, 7, t["confirm_title"], newline=True)
    font(8.5)
    pdf.paragraph(t["confirm_text"], 4.5, width)
    pdf.ln(2)
    font(9, "B")
    for text in confirm_lines(statement, lang):
        pdf.paragraph(text, 5, width)
    pdf.ln(2)
    font(9, "B")
    pdf.cell(40, 7, t["confirmed"])
    font(9)
    for answer in (t["yes"], t["no"]):
        pdf.rect(pdf.x + 1, pdf.y + 1.9, 3.2, 3.2)
        pdf.cell(25, 7, "      " + answer)
    pdf.ln(7)
    for label, h in ((t["remarks"], 14), (t["signer"], 10), (t["seal"], 26), (t["sign_date"], 10)):
        font(9, "B")
        pdf.cell(40, h, label)
        pdf.cell(width - 40, h, "", border="B" if label != t["seal"] else 1, newline=True)
        pdf.ln(1.5)
    if strict and pdf.missing():
        return None
    return pdf.pdf(title=f"{t['title']} {statement.statement_id}", author=statement.company(lang) or "xl-ar",
                   created=statement.period_to)

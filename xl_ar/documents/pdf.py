"""Statements as PDF, with Chinese text rendered properly.

Two engines, tried in this order by ``engine="auto"``:

1. **fpdf2** (pure Python) with a CJK font found on the machine: Noto Sans CJK
   (``fonts-noto-cjk``, an OpenType collection with CFF outlines, which fpdf2 subsets and embeds
   as CID-keyed CFF), Microsoft YaHei / SimHei on Windows, PingFang or Heiti on macOS, or any
   file named by ``XL_AR_CJK_FONT`` (``path`` or ``path#face-index``). It needs no office
   suite, and the PDF embeds the subset of the glyphs it uses, so it prints the same
   everywhere. Parsing and subsetting the whole CJK font (regular and bold) takes a second or two
   per statement, so a run of many statements first cuts the font down once to the characters
   of the whole batch (:class:`BatchFonts`) and renders each statement from that small font: a
   statement needing a character outside it is rendered from the whole font. ReportLab was not chosen: its ``TTFont`` takes TrueType outlines
   only, and its built-in CID fonts (``STSong-Light``) are not embedded, so the reader's
   substitute font decides what the customer sees.
2. **LibreOffice** headless converting the statement's .xlsx, for a machine with no CJK font
   file fpdf2 can use (or without fpdf2). It prints the same workbook the customer gets.

When neither works, :class:`PdfError` says what to install.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Sequence

from xl_ar.core.aging import AgingEdges
from xl_ar.documents.statement_xlsx import write_statement_xlsx
from xl_ar.documents.statements import TEXT, Statement, closing_in_words, confirm_lines, file_stem, fmt_money

#: Where CJK fonts live on common systems: (regular, bold); bold may be missing.
FONT_CANDIDATES: tuple[tuple[str, str], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/noto-cjk/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc", "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Bold.ttc"),
    ("/usr/share/fonts/opentype/noto/NotoSansCJKsc-Regular.otf", "/usr/share/fonts/opentype/noto/NotoSansCJKsc-Bold.otf"),
    ("C:/Windows/Fonts/msyh.ttc", "C:/Windows/Fonts/msyhbd.ttc"),
    ("C:/Windows/Fonts/simhei.ttf", ""),
    ("/System/Library/Fonts/PingFang.ttc", ""),
    ("/System/Library/Fonts/STHeiti Medium.ttc", ""),
    ("/Library/Fonts/Arial Unicode.ttf", ""),
)
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


def find_cjk_font() -> tuple[tuple[str, int], tuple[str, int] | None] | None:
    """The CJK font files fpdf2 can use: ((regular path, face), (bold path, face) or None).

    ``XL_AR_CJK_FONT`` (and ``XL_AR_CJK_FONT_BOLD``) win; then the usual places; then
    fontconfig's choice for Simplified Chinese. In a collection the Simplified Chinese face
    (``SC``) is taken, so 对 and 门 have the mainland forms. Found once per process and
    setting (opening a collection to find its face takes ~10 ms: once per run, not per PDF).
    """
    return _find_cjk_font(os.environ.get("XL_AR_CJK_FONT"), os.environ.get("XL_AR_CJK_FONT_BOLD"))


@functools.lru_cache(maxsize=8)
def _find_cjk_font(env: str | None, env_bold: str | None) -> tuple[tuple[str, int], tuple[str, int] | None] | None:
    if env:
        return _face(env), (_face(env_bold) if env_bold else None)
    for regular, bold in FONT_CANDIDATES:
        if os.path.isfile(regular):
            return _face(regular), (_face(bold) if bold and os.path.isfile(bold) else None)
    fc = shutil.which("fc-match")
    if fc:
        try:
            out = subprocess.run([fc, "-f", "%{file}", "sans-serif:lang=zh-cn"], capture_output=True, text=True,
                                 timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        if out and os.path.isfile(out) and out.lower().endswith((".ttf", ".otf", ".ttc")) and _has_cjk(out):
            return _face(out), None
    return None


def _face(spec: str) -> tuple[str, int]:
    """``path#2`` -> (path, 2); a collection without an index gets its Simplified Chinese face."""
    path, _, idx = spec.partition("#")
    if idx.isdigit():
        return path, int(idx)
    if path.lower().endswith(".ttc"):
        try:
            from fontTools.ttLib import TTCollection

            coll = TTCollection(path, lazy=True)
            try:
                names = [str(f["name"].getDebugName(1) or "") for f in coll.fonts]
            finally:
                coll.close()
            for k, name in enumerate(names):
                if name.endswith(" SC") or "GB" in name or "YaHei" in name and "UI" not in name:
                    return path, k
        except Exception:  # an unreadable collection: let fpdf2 report it when used
            pass
    return path, 0


def _has_cjk(path: str) -> bool:
    """True when the font maps 对 (U+5BF9): fontconfig may offer DejaVu when no CJK font is there."""
    try:
        from fontTools.ttLib import TTFont

        with TTFont(path, fontNumber=0, lazy=True) as f:
            return 0x5BF9 in (f.getBestCmap() or {})
    except Exception:
        return False


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


# ----------------------------------------------------------------------------- batch fonts


def statement_chars(statement: Statement, lang: str) -> set[str]:
    """Every character a statement's PDF may draw: its own text, the labels and the digits."""
    chars: set[str] = set(map(chr, range(0x20, 0x7F))) | set("✓≠…异议")
    for text in TEXT[lang].values():
        chars.update(str(text))
    chars.update("".join(AgingEdges(statement.aging_edges).labels(lang)))

    def walk(value: object) -> None:
        if isinstance(value, str):
            chars.update(value)
        elif isinstance(value, (tuple, list)):
            for v in value:
                walk(v)
        elif dataclasses.is_dataclass(value):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name))

    walk(statement)
    # Text the PDF composes rather than copies: the closing balance in capital numerals (捌仟…整),
    # the confirmation lines, and the full-width punctuation around them. Missing these sent most
    # Chinese statements of a batch back to the whole font (15 of the demo's 20).
    chars.update("：（）")
    for sec in statement.sections:
        chars.update(closing_in_words(sec, lang) or "")
    for text in confirm_lines(statement, lang):
        chars.update(text)
    return chars


class BatchFonts:
    """The CJK font cut down once to the characters of a batch of statements.

    fpdf2 parses and subsets the whole font (tens of thousands of glyphs) for every document;
    from a font holding only the batch's few hundred characters, that work is a fraction. The
    glyphs drawn are the same; only the embedded font program's bytes may differ from a
    statement rendered alone. A statement with a character outside the batch (one not given to
    the constructor) is rendered from the whole font, so nothing is ever drawn as a blank box.

    Use as a context manager (the small fonts live in a temporary folder until it closes).

    Args:
        statements: the statements of the batch.
        lang: the language they are rendered in (None: each statement's own).
        extra: other texts the batch draws (the dunning letters of a reminders run), so one cut
            serves the letters and the statements alike.
        bold_extra: for a batch of letters alone, the texts drawn in bold (their headings): the
            bold face is cut to those, so each letter embeds it from a font of a few glyphs.
        deferred: cut later, by :meth:`cut` (a run's worker processes, forked before it, wait
            for it at their first letter).
    """

    def __init__(self, statements: Sequence[Statement] = (), lang: str | None = None, *,
                 extra: Iterable[str] = (), bold_extra: Iterable[str] | None = None, deferred: bool = False):
        self._tmp = tempfile.TemporaryDirectory(prefix="xl-ar-fonts-")
        self._fonts: tuple[tuple[str, int], tuple[str, int] | None] | None = None
        self._face: tuple[tuple[str, int], tuple[str, int] | None] | None = None  # to cut, when deferred
        self._ready: Any = None  # set once a deferred cut is made (seen by forked workers too)
        self._made: Any = None  # 1 when it succeeded
        self.chars: set[str] = set()
        self.bold_chars: set[str] | None = None  # None: the bold cut holds ``chars`` too
        for text in extra:
            self.chars.update(text)
        found = find_cjk_font()
        if found is None or not (statements or self.chars):
            return
        for st in statements:
            for one in ("zh", "en") if lang is None else (lang,):
                self.chars |= statement_chars(st, one)
        if bold_extra is not None and not statements:
            self.bold_chars = set().union(*map(set, bold_extra))
        self._face = found
        if deferred and "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            try:
                self._ready, self._made = ctx.Event(), ctx.Value("b", 0)
            except (OSError, ImportError):  # no working semaphores here: cut at first use instead
                self._ready = self._made = None
        elif not deferred:
            self.cut()

    def cut(self) -> None:
        """Cut the fonts (done by the constructor unless ``deferred``: then by the run while its
        workers, forked before, make the documents that need no font; any process waits for
        the cut at its first :meth:`fonts_for`)."""
        if self._face is None:
            return
        found, self._face = self._face, None
        regular, bold = self._files(found)
        try:
            _cut_font(found[0], self.chars, Path(regular[0]))
            if bold is not None:
                _cut_font(found[1], self.chars if self.bold_chars is None else self.bold_chars, Path(bold[0]))
            self._fonts = (regular, bold)
            if self._made is not None:
                self._made.value = 1
        except Exception:  # noqa: S110 - a font fontTools cannot cut: render from the whole font as before
            pass
        finally:
            if self._ready is not None:
                self._ready.set()

    def _await_cut(self) -> None:
        """In a worker forked before a deferred cut: wait for it, then take its files."""
        if self._face is None:
            return
        if self._ready is None:  # no fork here: the cut is made at first use
            self.cut()
            return
        found, self._face = self._face, None
        if self._ready.wait(_CUT_WAIT) and self._made.value:
            self._fonts = self._files(found)

    def _files(self, found: tuple[tuple[str, int], tuple[str, int] | None]
               ) -> tuple[tuple[str, int], tuple[str, int] | None]:
        """Where the cut faces are written: (regular, bold or None when the font has no bold)."""
        folder = Path(self._tmp.name)
        return (str(folder / "regular.otf"), 0), ((str(folder / "bold.otf"), 0) if found[1] else None)

    def fonts(self, statement: Statement, lang: str) -> tuple[tuple[str, int], tuple[str, int] | None] | None:
        """The small fonts, when they hold every character of ``statement``; else None."""
        return self.fonts_for(statement_chars(statement, lang))

    def fonts_for(self, chars: set[str], bold: set[str] | None = None
                  ) -> tuple[tuple[str, int], tuple[str, int] | None] | None:
        """The small fonts, when they hold every one of ``chars`` (a letter's) and the bold one
        every one of ``bold`` (its heading; None: ``chars``); else None."""
        self._await_cut()
        if self._fonts is None or not chars <= self.chars:
            return None
        if self.bold_chars is not None and not (chars if bold is None else bold) <= self.bold_chars:
            return None
        return self._fonts

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> "BatchFonts":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Tables a cut font drops: fpdf2 draws each character's glyph from the cmap without shaping
#: and horizontally, so the layout tables (in a CJK font, most of its size after the glyphs)
#: and the vertical metrics are never read. Every later PDF subsets the cut font again.
_UNUSED_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG"]


#: The longest a document waits for a deferred cut (seconds); then it cuts its own font.
_CUT_WAIT = 600.0


def _cut_font(face: tuple[str, int], chars: set[str], out: Path) -> tuple[str, int]:
    """Write the face cut down to ``chars`` (names kept, layout tables dropped) to ``out``.

    The outlines are written without subroutines: each PDF drawn from the cut subsets it once
    more, and a font without subroutines subsets in about half the time (at a cut of 2,000
    characters, a letter's PDF takes 32 ms instead of 74 ms) and embeds no larger.
    """
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path, index = face
    # recalcBBoxes=False: the whole font's boxes enclose the cut's glyphs (see keep_bounds)
    with TTFont(path, fontNumber=index, lazy=True, recalcTimestamp=False, recalcBBoxes=False) as font:
        options = subset.Options(notdef_outline=True, recommended_glyphs=True, name_IDs=["*"],
                                 name_languages=["*"], layout_features=[], glyph_names=True,
                                 desubroutinize=True)
        options.drop_tables += _UNUSED_TABLES
        cutter = subset.Subsetter(options)
        cutter.populate(text="".join(sorted(chars)))
        cutter.subset(font)
        font.save(out)
    return str(out), 0


def keep_bounds(pdf) -> None:
    """Let fpdf2 embed each font subset without measuring every glyph again.

    Saving the subset, fontTools recalculates the bounding boxes (head, hhea, vhea and the CFF
    FontBBox) by drawing every glyph's outline, three times per font: half the CPU of each PDF.
    The boxes kept are the font's own, which enclose the subset's glyphs (a box only has to be
    large enough); the glyphs, their widths and what is drawn are the same.
    """
    for font in pdf.fonts.values():
        if getattr(font, "ttfont", None) is not None:
            font.ttfont.recalcBBoxes = False


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
    pdf.multi_cell(width, 4.5, t["confirm_text"], new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    font(9, "B")
    for text in confirm_lines(statement, lang):
        pdf.multi_cell(width, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
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

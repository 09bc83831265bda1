"""A4 pages of text in cells, lines and boxes, drawn as PDF by ReportLab with a TrueType font.

The statements and the dunning letters are laid out here (:class:`Pages`: a cursor that writes
cells left to right and lines top to bottom, in millimetres from the page's top left, breaking
to a new page when the next cell would cross the bottom margin) and then drawn with ReportLab,
which embeds in each PDF only the glyphs it draws, with a map back to Unicode so the text can
be searched and copied.

Why ReportLab: a run makes thousands of PDFs from one font cut down to the batch's characters
(:class:`xl_ar.documents.fonts.BatchFonts`). ReportLab parses that font once per process and
takes each document's glyphs straight from it; the PDF library used before (fpdf2) parsed and
subset the font anew for every document, which was three quarters of a statement's PDF.
ReportLab draws TrueType outlines only, so the cuts are given them (see ``fonts``).

The layout is laid down first and drawn when the page count is known, so a footer can say
"page 2 of 3".
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import os
import zlib
from typing import Any, Callable

#: Points per millimetre.
PT = 72 / 25.4
A4 = (210.0, 297.0)
#: Space between a cell's edge and its text (mm).
CELL_MARGIN = 1.0
#: Stroke width of borders and boxes (mm).
LINE_WIDTH = 0.2


class FontError(RuntimeError):
    """ReportLab cannot draw from a font: its licence forbids embedding it, it has no TrueType
    outlines, or it cannot be read. The message says why; the caller names the font
    (:func:`xl_ar.documents.fonts.font_problem`)."""


#: Why a font whose licence (OS/2 ``fsType``) forbids embedding it is refused.
NOT_EMBEDDABLE = "its licence does not allow embedding it in a document"


@functools.lru_cache(maxsize=64)
def _registered(path: str, index: int, stamp: tuple[int, int]) -> str:
    """The ReportLab name of the font at ``path`` (face ``index``), registered once per process
    and file version (``stamp``: its size and modification time)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    name = f"xlar{len(pdfmetrics.getRegisteredFontNames())}-{abs(hash((path, index, stamp))) % 10**8}"
    try:
        pdfmetrics.registerFont(TTFont(name, path, subfontIndex=index))
    except (TTFError, OSError, ValueError) as exc:
        if "not allow subsetting/embedding" in str(exc):  # its OS/2 fsType: restricted, or no subsetting
            raise FontError(NOT_EMBEDDABLE) from None
        raise FontError(f"it cannot be drawn from ({exc})") from None
    return name


def font_name(face: tuple[str, int]) -> str:
    """Register a font file's face with ReportLab (once per process and file); its name."""
    path, index = face
    try:
        st = os.stat(path)
    except OSError as exc:
        raise FontError(f"it cannot be read ({exc.strerror})") from None
    return _registered(os.path.abspath(path), index, (st.st_size, st.st_mtime_ns))


class Pages:
    """Cells of text on A4 pages, laid down in millimetres and drawn as one PDF by :meth:`pdf`.

    Args:
        regular, bold: the faces text is drawn in ((path, face index); TrueType outlines).
        margins: left, top and right margin (mm).
        bottom: a cell that would reach closer than this to the page's foot goes to a new page.
        footer: each page's foot: ``(distance from the foot, left text, right text(n, total))``.
    """

    def __init__(self, regular: tuple[str, int], bold: tuple[str, int], *, margins: float, bottom: float,
                 footer: tuple[float, str, Callable[[int, int], str]] | None = None):
        from reportlab.pdfbase import pdfmetrics

        self._names = {"": font_name(regular), "B": font_name(bold)}
        self._width = pdfmetrics.stringWidth
        self.w, self.h = A4
        self.l_margin = self.t_margin = self.r_margin = margins
        self._trigger = self.h - bottom
        self._footer = footer
        self.epw = self.w - 2 * margins  # the width between the margins
        self._pages: list[list[tuple]] = []
        self._font = self._names[""]
        self.size = 10.0  # points
        self._fill = (1.0, 1.0, 1.0)
        self.x = self.y = margins
        self.add_page()

    # ------------------------------------------------------------------ state

    def font(self, size: float, style: str = "") -> None:
        """Draw what follows in ``size`` points, bold when ``style`` is "B"."""
        self._font, self.size = self._names[style], size

    def fill_color(self, rgb: tuple[int, int, int]) -> None:
        """The colour filled cells are shaded with (0-255 each)."""
        self._fill = tuple(v / 255 for v in rgb)

    def width(self, text: str) -> float:
        """``text``'s width in the current font and size (mm)."""
        return self._width(text, self._font, self.size) / PT

    def will_break(self, h: float) -> bool:
        """Whether a cell ``h`` high at the cursor would go to a new page."""
        return self.y + h > self._trigger

    def add_page(self) -> None:
        """Start a new page; the cursor goes to its top left margin."""
        self._pages.append([])
        self.x, self.y = self.l_margin, self.t_margin

    @property
    def page_no(self) -> int:
        return len(self._pages)

    # ------------------------------------------------------------------ drawing

    def cell(self, w: float, h: float, text: str = "", *, border: int | str = 0, align: str = "L",
             fill: bool = False, newline: bool = False) -> None:
        """A cell ``w`` mm wide (0: to the right margin) and ``h`` high at the cursor, its text
        aligned left, right or centred ("L", "R", "C") a cell margin from its edges and centred
        on its height; ``border`` 1 draws its box, "B" its bottom edge; ``fill`` shades it. The
        cursor then moves right of it, or with ``newline`` to the next line's left margin. A cell
        that would cross the bottom margin starts a new page first (at the same x)."""
        if self.will_break(h):
            x = self.x
            self.add_page()
            self.x = x
        if w == 0:
            w = self.w - self.r_margin - self.x
        ops, x, y = self._pages[-1], self.x, self.y
        if fill or border == 1:
            ops.append(("box", x, y, w, h, self._fill if fill else None, border == 1))
        elif border == "B":
            ops.append(("line", x, y + h, x + w, y + h))
        if text:
            if align == "L":
                dx = CELL_MARGIN
            else:
                free = w - self.width(text)
                dx = free - CELL_MARGIN if align == "R" else free / 2
            ops.append(("text", x + dx, y + h / 2 + 0.3 * self.size / PT, self._font, self.size, text))
        if newline:
            self.x, self.y = self.l_margin, y + h
        else:
            self.x = x + w

    def ln(self, h: float) -> None:
        """Down ``h`` mm, back to the left margin."""
        self.x, self.y = self.l_margin, self.y + h

    def rect(self, x: float, y: float, w: float, h: float) -> None:
        """An empty box (a tick box)."""
        self._pages[-1].append(("box", x, y, w, h, None, True))

    def fit(self, text: str, w: float) -> str:
        """``text`` cut to a cell ``w`` wide (an ellipsis shows it was cut): the longest start of
        it that fits with the ellipsis, found by halving (a cell's 32,767 characters are
        measured some 15 times, not once per character cut)."""
        room = w - 1.5
        if self.width(text) <= room:
            return text
        lo, hi = 0, len(text)  # text[:lo] + "…" fits (or lo is 0); text[:hi] + "…" does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self.width(text[:mid] + "…") <= room:
                lo = mid
            else:
                hi = mid
        return text[:lo] + "…"

    def paragraph(self, text: str, h: float, w: float = 0, widths: dict[tuple, dict[str, float]] | None = None) -> None:
        """``text`` as left-aligned lines ``h`` high in a column ``w`` wide (0: to the right
        margin), each line break in it starting a line, broken by :func:`broken`.

        ``widths``: each character's width measured so far, by font and size, shared by the
        paragraphs and documents of a batch drawn from the same font files; None measures
        afresh."""
        w = w or self.w - self.r_margin - self.x
        key = (self._font, self.size)
        known: dict[str, float] = {} if widths is None else widths.setdefault(key, {})
        width = lambda ch: known.get(ch) or known.setdefault(ch, self.width(ch))  # noqa: E731
        for line in text.replace("\r\n", "\n").split("\n"):
            for part in broken(line, w - 2 * CELL_MARGIN, width) or [""]:
                self.cell(w, h, part, newline=True)

    # ------------------------------------------------------------------ output

    def drawn(self) -> set[str]:
        """Every character the pages draw (to check a font holds them all)."""
        chars: set[str] = set()
        for ops in self._pages:
            for op in ops:
                if op[0] == "text":
                    chars.update(op[5])
        return chars

    def missing(self) -> set[str]:
        """The characters drawn that the regular or the bold face has no glyph for."""
        from reportlab.pdfbase import pdfmetrics

        drawn = {ord(c) for c in self.drawn()}
        gone: set[int] = set()
        for name in set(self._names.values()):
            gone |= drawn - pdfmetrics.getFont(name).face.charToGlyph.keys()
        return {chr(c) for c in gone}

    def pdf(self, *, title: str, author: str, created: dt.date) -> bytes:
        """The pages as a PDF. ``created`` is its creation date (the same pages give the same
        bytes: a statement is evidence)."""
        from reportlab.pdfgen.canvas import Canvas

        _streams_deflated_fast()
        out = io.BytesIO()
        c = Canvas(out, pagesize=(self.w * PT, self.h * PT), invariant=1, initialFontName=self._names[""],
                   initialFontSize=10, pageCompression=1)
        stamp = f"D:{created:%Y%m%d}000000+00'00'"
        c.setDateFormatter(lambda *_: stamp)
        c.setTitle(title)
        c.setSubject(title)
        c.setAuthor(author)
        c.setCreator("xl-ar")
        c.setProducer("xl-ar")
        total = len(self._pages)
        for n, ops in enumerate(self._pages, 1):
            if self._footer is not None:
                ops = ops + self._footer_ops(n, total)
            _draw(c, ops, self.h)
            c.showPage()
        c.save()
        return out.getvalue()

    def _footer_ops(self, n: int, total: int) -> list[tuple]:
        """Page ``n``'s footer, laid out below the bottom margin (where no cell breaks the page)."""
        up, left, right = self._footer
        keep = (self.x, self.y, self._font, self.size, self._pages, self._trigger)
        self._pages, self._trigger = [[]], float("inf")
        self.font(7)
        self.x, self.y = self.l_margin, self.h - up
        self.cell(0, 4, left)
        self.x = self.l_margin
        self.cell(0, 4, right(n, total), align="R")
        ops = [(*op, _GREY) if op[0] == "text" else op for op in self._pages[0]]
        self.x, self.y, self._font, self.size, self._pages, self._trigger = keep
        return ops


_GREY = (110 / 255,) * 3

#: zlib's level for the PDFs' streams (the embedded fonts, the pages' text): see below.
DEFLATE_LEVEL = 1


def _streams_deflated_fast() -> None:
    """Have ReportLab deflate the PDFs' streams at :data:`DEFLATE_LEVEL`, without ASCII85.

    ReportLab wraps each deflated stream in ASCII85 (a quarter larger, and encoded in Python)
    unless told not to (``rl_config.useA85``), and deflates with zlib's default level 6, which
    it has no setting for: deflating the two embedded font subsets was a third of a statement's
    PDF. Its one FlateDecode filter (``pdfdoc.PDFZCompress``) is replaced by one that deflates at
    level 1: 100,000 invoices' 2,500 statements 8.07 -> 7.35 s, their files 1.4% larger. zlib's
    stream is a function of the bytes alone, so the same statement is still the same bytes
    (ISA-L, 0.3 s faster again, is not promised to be)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfdoc

    rl_config.useA85 = 0
    if type(pdfdoc.PDFZCompress) is pdfdoc.PDFStreamFilterZCompress:  # (once; not if ReportLab changed it)
        pdfdoc.PDFZCompress = _Deflate()


class _Deflate:
    """ReportLab's FlateDecode stream filter, at :data:`DEFLATE_LEVEL`."""

    pdfname = "FlateDecode"

    def encode(self, text: str | bytes) -> bytes:
        return zlib.compress(text.encode("utf8") if isinstance(text, str) else text, DEFLATE_LEVEL)

    def decode(self, encoded: bytes) -> bytes:
        return zlib.decompress(encoded)


def _draw(c: Any, ops: list[tuple], page_h: float) -> None:
    """One page's operations drawn on ReportLab's canvas (y from the top in mm -> points from
    the foot): the boxes and lines, then the text over them, as one text object (a text object
    per cell cost a tenth of a statement's PDF)."""
    c.setLineWidth(LINE_WIDTH * PT)
    words = c.beginText()
    font = colour = None
    for op in ops:
        kind = op[0]
        if kind == "text":
            x, y, name, size, text = op[1:6]
            want = op[6] if len(op) > 6 else (0.0, 0.0, 0.0)
            if want != colour:
                words.setFillColorRGB(*want)
                colour = want
            if (name, size) != font:
                words.setFont(name, size)
                font = (name, size)
            words.setTextOrigin(x * PT, (page_h - y) * PT)
            words.textOut(text)
        elif kind == "box":
            x, y, w, h, fill, stroke = op[1:]
            if fill is not None:
                c.setFillColorRGB(*fill)
            c.rect(x * PT, (page_h - y - h) * PT, w * PT, h * PT, stroke=int(stroke), fill=int(fill is not None))
        else:  # a line
            x1, y1, x2, y2 = op[1:]
            c.line(x1 * PT, (page_h - y1) * PT, x2 * PT, (page_h - y2) * PT)
    c.drawText(words)


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

"""The CJK fonts a PDF is drawn with: found on the machine, and cut down to the characters drawn.

A CJK font holds tens of thousands of glyphs: parsing it takes a second. A PDF is drawn from
the font cut down to its characters (:func:`own_cut`), and a run of many documents (statements
for every customer, the dunning letters of a reminders run) cuts the font once to the
characters of the whole batch (:class:`BatchFonts`): ReportLab (``xl_ar.documents.pages``)
parses the small cut once per process and takes each PDF's glyphs from it.

A cut is given TrueType outlines (quadratic curves) in place of the CFF outlines of a font
like Noto Sans CJK: ReportLab draws TrueType outlines only. Converting costs about 0.4 ms a
glyph, once per cut (0.8 s for 2,000 characters). The curves are converted within 1/1000 of
the em (0.01 pt at 10.5 pt: the same letters on paper); the CFF hints are not kept, as
TrueType outlines carry their own (none here), which only changes how a screen anti-aliases
small text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from xl_ar.core.aging import AgingEdges
from xl_ar.documents.pages import NOT_EMBEDDABLE, FontError
from xl_ar.documents.statements import TEXT, Statement, closing_in_words, confirm_lines

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

def find_cjk_font() -> tuple[tuple[str, int], tuple[str, int] | None] | None:
    """The CJK font files PDFs are drawn from: ((regular path, face), (bold path, face) or None).

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
        except Exception:  # an unreadable collection: reported when a PDF is drawn from it
            pass
    return path, 0


def font_problem(found: tuple[tuple[str, int], tuple[str, int] | None], exc: FontError) -> str:
    """What a PDF error says when the font ``found`` (:func:`find_cjk_font`) cannot be drawn
    from: the font, why, and what to do."""
    return f"the font {found[0][0]}: {exc} (set XL_AR_CJK_FONT to another font)"


def _has_cjk(path: str) -> bool:
    """True when the font maps 对 (U+5BF9): fontconfig may offer DejaVu when no CJK font is there."""
    try:
        from fontTools.ttLib import TTFont

        with TTFont(path, fontNumber=0, lazy=True) as f:
            return 0x5BF9 in (f.getBestCmap() or {})
    except Exception:
        return False


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
    """The CJK font cut down once to the characters of a batch of statements and letters.

    Each PDF of the batch is drawn from the cut: the glyphs are the same as from a cut of its
    own, which costs a second. A statement with a character outside the batch (one not given
    to the constructor) is drawn from a cut of its own, so nothing is ever drawn as a blank box.

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
        #: characters' widths measured in the cut fonts (:meth:`xl_ar.documents.pages.Pages.paragraph`):
        #: a run's letters draw the same characters from the same files, each measured once
        self.widths: dict[tuple, dict[str, float]] = {}
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
        bold_chars = self.chars if self.bold_chars is None else self.bold_chars
        try:
            _cut_font(found[0], self.chars, Path(regular[0]))
            if bold is not None:
                _cut_font(found[1], bold_chars, Path(bold[0]))
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
        return (str(folder / "regular.ttf"), 0), ((str(folder / "bold.ttf"), 0) if found[1] else None)

    def fonts(self) -> tuple[tuple[str, int], tuple[str, int] | None] | None:
        """The small fonts, whatever they hold (a statement drawn from them checks that they
        held every character it drew); None when there are none (no CJK font, or it could not
        be cut)."""
        self._await_cut()
        return self._fonts

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


#: Tables a cut font drops: a PDF draws each character's glyph from the cmap without shaping
#: and horizontally, so the layout tables (in a CJK font, most of its size after the glyphs)
#: and the vertical metrics are never read.
_UNUSED_TABLES = ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "vhea", "vmtx", "VORG"]


#: The longest a document waits for a deferred cut (seconds); then it cuts its own font.
_CUT_WAIT = 600.0

#: How far a converted curve may stray from the cubic one, in font units (1/1000 of the em in
#: a CJK font): 0.01 pt in 10.5 pt text.
_MAX_ERROR = 1.0


@contextlib.contextmanager
def own_cut(found: tuple[tuple[str, int], tuple[str, int] | None], chars: set[str],
            bold_chars: set[str] | None = None) -> Iterator[tuple[tuple[str, int], tuple[str, int]]]:
    """The faces ``found`` cut to ``chars`` (the bold one to ``bold_chars``, default ``chars``)
    for one document, in a temporary folder while the context lasts: (regular, bold). A font
    fontTools cannot cut is given as it is (drawn from whole, when it has TrueType outlines)."""
    with tempfile.TemporaryDirectory(prefix="xl-ar-font-") as tmp:
        try:
            regular = _cut_font(found[0], chars, Path(tmp) / "regular.ttf")
            bold = _cut_font(found[1], chars if bold_chars is None else bold_chars,
                             Path(tmp) / "bold.ttf") if found[1] else regular
        except FontError:
            raise
        except Exception:  # noqa: BLE001 - a font fontTools cannot cut: draw from the whole font
            regular, bold = found[0], found[1] or found[0]
        yield regular, bold


def _cut_font(face: tuple[str, int], chars: set[str], out: Path) -> tuple[str, int]:
    """Write the face cut down to ``chars`` (names kept, layout tables dropped, TrueType
    outlines: see the module's doc) to ``out``."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    path, index = face
    # recalcBBoxes=False: the whole font's boxes enclose the cut's glyphs
    with TTFont(path, fontNumber=index, lazy=True, recalcTimestamp=False, recalcBBoxes=False) as font:
        if "OS/2" in font and _embedding_refused(font["OS/2"].fsType):
            raise FontError(NOT_EMBEDDABLE)
        for tag in _UNUSED_TABLES:  # gone before the subsetter reads them (it parsed GSUB and GPOS: 0.12 s)
            if tag in font:
                del font[tag]
        options = subset.Options(notdef_outline=True, recommended_glyphs=True, name_IDs=["*"],
                                 name_languages=["*"], layout_features=[], glyph_names=True,
                                 desubroutinize=True)
        options.drop_tables += _UNUSED_TABLES
        cutter = subset.Subsetter(options)
        text = "".join(sorted(chars))
        cutter.populate(text=text)
        cutter.subset(font)
        if "CFF " in font:
            _to_truetype(font)
        _name_cut(font, f"{path}#{index}@{os.stat(path).st_mtime_ns}:{text}")
        font.save(out)
    return str(out), 0


def _embedding_refused(fs_type: int) -> bool:
    """Whether a font's licence (its OS/2 ``fsType``) forbids the embedding a PDF makes of it:
    a restricted licence (bit 1 alone of bits 1-3: the least restrictive of them applies), no
    subsetting (bit 8: a whole CJK font in every PDF is out of the question), or bitmaps only
    (bit 9)."""
    return (fs_type & 0x000E) == 0x0002 or bool(fs_type & 0x0300)


def _name_cut(font: Any, what: str) -> None:
    """Give the cut a PostScript name of its own (the font's, a dash and 8 hex digits of
    ``what``: the font file, its version and the characters): ReportLab keeps one parsed font
    per name in a process, so two cuts named alike would draw from whichever was registered
    first. The same cut gets the same name."""
    tag = hashlib.blake2s(what.encode("utf-8", "surrogatepass"), digest_size=4).hexdigest()
    for record in font["name"].names:
        if record.nameID == 6:
            record.string = f"{record.toUnicode()}-{tag}"[:63]


def _to_truetype(font: Any) -> None:
    """Replace a font's CFF outlines by TrueType (quadratic) ones, glyph for glyph, in place."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    order = font.getGlyphOrder()
    outlines = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(outlines)
        # TrueType runs outer contours clockwise, PostScript counter-clockwise
        outlines[name].draw(Cu2QuPen(pen, _MAX_ERROR, reverse_direction=True))
        glyf[name] = pen.glyph()
    del font["CFF "]
    font["loca"], font["glyf"] = newTable("loca"), glyf
    font["head"].glyphDataFormat = 0
    maxp = font["maxp"]  # version 1.0 (TrueType): the counts are recalculated on save
    maxp.tableVersion = 0x00010000
    for field in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                  "maxStackElements", "maxSizeOfInstructions", "maxComponentElements", "maxComponentDepth"):
        setattr(maxp, field, 0)
    maxp.maxZones = 1
    post = font["post"]  # glyph names now live here (they were the CFF charset's)
    post.formatType, post.extraNames, post.mapping = 2.0, [], {}
    font.sfntVersion = "\x00\x01\x00\x00"
    font.recalcBBoxes = True  # the glyphs' boxes and maxp's counts, read off the points (no drawing)


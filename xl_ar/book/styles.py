"""Cell formats in ``xl/styles.xml``, added by targeted text edits so the rest stays unchanged.

A cell's ``s`` attribute indexes ``cellXfs``; an xf names a number format, a font, a fill and a
border. New entries are appended to those lists (their ``count`` updated), and an entry that
already exists with exactly the same content is reused, so a refresh run twice adds nothing.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from xl_ar.book.sheetxml import MAIN_NS, BookError, escape_attr

# Built-in number formats (ECMA-376 Part 1, 18.8.30): never declared in styles.xml. Ids 14-22
# display in the reader's locale (14 is the short date: m/d/yyyy in en-US, yyyy/m/d in zh-CN).
BUILTIN_NUM_FMTS: dict[str, int] = {
    "General": 0, "0": 1, "0.00": 2, "#,##0": 3, "#,##0.00": 4, "0%": 9, "0.00%": 10,
    "0.00E+00": 11, "# ?/?": 12, "# ??/??": 13, "mm-dd-yy": 14, "d-mmm-yy": 15, "d-mmm": 16,
    "mmm-yy": 17, "h:mm AM/PM": 18, "h:mm:ss AM/PM": 19, "h:mm": 20, "h:mm:ss": 21,
    "m/d/yy h:mm": 22, "#,##0 ;(#,##0)": 37, "#,##0 ;[Red](#,##0)": 38,
    "#,##0.00;(#,##0.00)": 39, "#,##0.00;[Red](#,##0.00)": 40, "mm:ss": 45, "[h]:mm:ss": 46,
    "mmss.0": 47, "##0.0E+0": 48, "@": 49,
}
HALIGNS = ("general", "left", "center", "right", "fill", "justify", "centerContinuous", "distributed")

# What a workbook without styles.xml gets: Excel's defaults (font, the two reserved fills,
# one empty border, the Normal style), without a theme colour since there may be no theme.
DEFAULT_STYLES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<styleSheet xmlns="' + MAIN_NS + b'">'
    b'<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    b'<fills count="2"><fill><patternFill patternType="none"/></fill>'
    b'<fill><patternFill patternType="gray125"/></fill></fills>'
    b'<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    b'<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    b'<cellXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/></cellXfs>'
    b'<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    b'<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium2" '
    b'defaultPivotStyle="PivotStyleLight16"/></styleSheet>'
)
_ORDER = ("numFmts", "fonts", "fills", "borders", "cellStyleXfs", "cellXfs", "cellStyles", "dxfs",
          "tableStyles", "colors", "extLst")
_M = "{" + MAIN_NS.decode() + "}"


def safe_parse(data: bytes, what: str) -> etree._Element:
    """Parse a small package part; refuse a DOCTYPE (entity bombs) and external entities.

    Args:
        data: the XML bytes.
        what: the part name, for the error message.

    Returns:
        The root element.
    """
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BookError(f"{what}: XML declaring a DOCTYPE or entities is refused (Excel never writes one)")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise BookError(f"{what}: not well-formed XML ({exc})") from None


# Attributes that do not change how a cell looks: Excel ignores the apply* flags of cellXfs
# (openpyxl omits them and its dates still show as dates), and these two default to false.
_NEUTRAL = {"applyNumberFormat", "applyFont", "applyFill", "applyBorder", "applyAlignment", "applyProtection"}
_DEFAULT_FALSE = {"pivotButton", "quotePrefix"}


def _key(el: etree._Element) -> tuple[Any, ...]:
    """Order-insensitive description of an element: equal keys mean interchangeable entries."""
    attrs = tuple(sorted(
        (k, v) for k, v in el.attrib.items()
        if k not in _NEUTRAL and not (k in _DEFAULT_FALSE and v in ("0", "false"))
    ))
    children = tuple(sorted(_key(c) for c in el if isinstance(c.tag, str)))
    return etree.QName(el).localname, attrs, children


def _argb(color: str) -> str:
    """``"C00000"``, ``"#C00000"`` or ``"FFC00000"`` -> ``"FFC00000"``."""
    c = color.lstrip("#").upper()
    if len(c) == 6:
        c = "FF" + c
    if len(c) != 8 or any(ch not in "0123456789ABCDEF" for ch in c):
        raise ValueError(f"not an RGB colour: {color!r}")
    return c


class StyleSheet:
    """The styles part of one workbook, with new cell formats appended on demand."""

    def __init__(self, xml: bytes | None = None):
        """Args:
            xml: the current ``styles.xml``, or None for a workbook that has none.
        """
        self.changed = xml is None
        self._xml = DEFAULT_STYLES if xml is None else xml
        root = safe_parse(self._xml, "xl/styles.xml")
        if etree.QName(root).namespace != MAIN_NS.decode():
            raise BookError("xl/styles.xml is not a SpreadsheetML style sheet")
        self._p = (root.prefix + ":").encode() if root.prefix else b""
        self._num_fmts = {
            nf.get("formatCode"): int(nf.get("numFmtId"))
            for nf in root.iterfind(f"{_M}numFmts/{_M}numFmt")
        }
        self._keys = {
            name: [_key(e) for e in root.iterfind(f"{_M}{name}/{_M}{child}")]
            for name, child in (("fonts", "font"), ("fills", "fill"), ("cellXfs", "xf"))
        }
        first_font = root.find(f"{_M}fonts/{_M}font")
        self._base_font = [c for c in first_font if isinstance(c.tag, str)] if first_font is not None else None
        self._memo: dict[tuple[Any, ...], int] = {}

    @property
    def xml(self) -> bytes:
        """The style sheet as it is now."""
        return self._xml

    def cell_style(
        self,
        num_fmt: str | None = None,
        *,
        bold: bool = False,
        italic: bool = False,
        font_color: str | None = None,
        fill: str | None = None,
        halign: str | None = None,
    ) -> int:
        """Return the ``cellXfs`` index of a cell format, adding it when no equal one exists.

        Args:
            num_fmt: an Excel number format code (``"yyyy-mm-dd"``, ``"#,##0.00"``); None keeps
                General.
            bold, italic: font flags (on top of the workbook's default font).
            font_color, fill: RGB colours such as ``"C00000"``; the fill is solid.
            halign: horizontal alignment (``"left"``, ``"center"``, ``"right"``, ...).

        Returns:
            The index to put in a cell's ``s`` attribute.
        """
        args = (num_fmt, bool(bold), bool(italic), font_color and _argb(font_color), fill and _argb(fill), halign)
        if args in self._memo:
            return self._memo[args]
        if halign is not None and halign not in HALIGNS:
            raise ValueError(f"unknown horizontal alignment {halign!r}")
        p = self._p.decode()
        fmt_id = self._num_fmt_id(num_fmt) if num_fmt not in (None, "General") else 0
        font_id = self._font_id(args[1], args[2], args[3]) if (bold or italic or font_color) else 0
        fill_id = self._add("fills", f"<{p}fill><{p}patternFill patternType=\"solid\"><{p}fgColor rgb=\"{args[4]}\"/>"
                            f"<{p}bgColor indexed=\"64\"/></{p}patternFill></{p}fill>") if fill else 0
        attrs = f'numFmtId="{fmt_id}" fontId="{font_id}" fillId="{fill_id}" borderId="0" xfId="0"'
        attrs += ' applyNumberFormat="1"' * (fmt_id != 0) + ' applyFont="1"' * (font_id != 0)
        attrs += ' applyFill="1"' * (fill_id != 0) + ' applyAlignment="1"' * (halign is not None)
        if halign:
            xf = f'<{p}xf {attrs}><{p}alignment horizontal="{halign}"/></{p}xf>'
        else:
            xf = f"<{p}xf {attrs}/>"
        self._memo[args] = idx = self._add("cellXfs", xf)
        return idx

    # ----------------------------------------------------------------------------- internals

    def _num_fmt_id(self, code: str) -> int:
        if code in BUILTIN_NUM_FMTS:
            return BUILTIN_NUM_FMTS[code]
        if code in self._num_fmts:
            return self._num_fmts[code]
        new_id = max([163, *self._num_fmts.values()]) + 1  # custom formats start at 164
        p = self._p.decode()
        self._insert("numFmts", f'<{p}numFmt numFmtId="{new_id}" formatCode="{escape_attr(code)}"/>'.encode(),
                     len(self._num_fmts) + 1)
        self._num_fmts[code] = new_id
        return new_id

    def _font_id(self, bold: bool, italic: bool, color: str | None) -> int:
        p = self._p.decode()
        parts = [f"<{p}b/>"] * bold + [f"<{p}i/>"] * italic
        if self._base_font is None:  # no fonts at all: the defaults go in first, ours on top
            self._add("fonts", self._defaults("fonts")[0])
            self._base_font = list(self._parse_new(self._defaults("fonts")[0]))
        placed = color is None
        for child in self._base_font:
            name = etree.QName(child).localname
            if name in ("b", "i"):
                continue
            if name == "color" and color is not None:
                parts.append(f'<{p}color rgb="{color}"/>')
                placed = True
                continue
            if any("}" in k for k in child.attrib) or len(child):
                parts.append(etree.tostring(child).decode())  # unusual: keep it exactly
            else:
                attrs = "".join(f' {k}="{escape_attr(v)}"' for k, v in child.attrib.items())
                parts.append(f"<{p}{name}{attrs}/>")
            if name == "sz" and not placed:  # Excel's order: b, i, sz, color, name, ...
                parts.append(f'<{p}color rgb="{color}"/>')
                placed = True
        if not placed:
            parts.append(f'<{p}color rgb="{color}"/>')
        return self._add("fonts", f"<{p}font>{''.join(parts)}</{p}font>")

    def _defaults(self, container: str) -> list[str]:
        """Entries Excel expects at the start of an empty list (fills 0-1 are reserved)."""
        p = self._p.decode()
        return {
            "fonts": [f'<{p}font><{p}sz val="11"/><{p}name val="Calibri"/><{p}family val="2"/></{p}font>'],
            "fills": [f'<{p}fill><{p}patternFill patternType="{t}"/></{p}fill>' for t in ("none", "gray125")],
            "cellXfs": [f'<{p}xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'],
        }[container]

    def _parse_new(self, element: str) -> etree._Element:
        ns = b' xmlns="' + MAIN_NS + b'"' if not self._p else b" xmlns:" + self._p[:-1] + b'="' + MAIN_NS + b'"'
        wrapped = b"<" + self._p + b"w" + ns + b">" + element.encode() + b"</" + self._p + b"w>"
        return safe_parse(wrapped, "new style")[0]

    def _add(self, container: str, element: str) -> int:
        """Index of an equal entry in ``container``, else append ``element`` and return its index."""
        keys = self._keys[container]
        if not keys:
            for default in self._defaults(container):
                keys.append(_key(self._parse_new(default)))
                self._insert(container, default.encode(), len(keys))
        key = _key(self._parse_new(element))
        if key in keys:
            return keys.index(key)
        keys.append(key)
        self._insert(container, element.encode(), len(keys))
        return len(keys) - 1

    def _insert(self, container: str, element: bytes, count: int) -> None:
        """Append ``element`` to ``container`` (creating it in schema order) and set its count."""
        x, p = self._xml, re.escape(self._p)
        m = re.compile(rb"<" + p + container.encode() + rb"\b([^>]*?)(/?)>").search(x)
        if m is None:
            at = self._container_slot(container)
            tag = b"<" + self._p + container.encode() + b' count="0"/>'
            x = x[:at] + tag + x[at:]
            m = re.compile(rb"<" + p + container.encode() + rb"\b([^>]*?)(/?)>").search(x, at)
        close = b"</" + self._p + container.encode() + b">"
        attrs = m.group(1)
        if re.search(rb'\scount="\d*"', attrs):
            attrs = re.sub(rb'(\scount=")\d*(")', rb"\g<1>" + str(count).encode() + rb"\g<2>", attrs)
        else:
            attrs += b' count="' + str(count).encode() + b'"'
        start = b"<" + self._p + container.encode() + attrs + b">"
        if m.group(2):  # <fonts count="0"/>
            x = x[: m.start()] + start + element + close + x[m.end():]
        else:
            end = x.index(close, m.end())
            x = x[: m.start()] + start + x[m.end(): end] + element + x[end:]
        self._xml, self.changed = x, True

    def _container_slot(self, container: str) -> int:
        """Where a missing container goes: after the last present one that precedes it."""
        x, p = self._xml, re.escape(self._p)
        root = re.compile(rb"<" + p + rb"styleSheet\b[^>]*>").search(x)
        at = root.end()
        for name in _ORDER[: _ORDER.index(container)]:
            m = re.compile(rb"<" + p + name.encode() + rb"\b[^>]*?(/?)>").search(x)
            if m:
                close = b"</" + self._p + name.encode() + b">"
                at = m.end() if m.group(1) else x.index(close, m.end()) + len(close)
        return at

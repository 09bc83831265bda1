"""Native Excel charts (DrawingML) in a sheet the tool owns, written as package parts.

A chart is three parts and four links: ``xl/charts/chartN.xml`` (a ``c:chartSpace``),
``xl/drawings/drawingN.xml`` (an ``xdr:wsDr`` with one ``twoCellAnchor`` per chart), the
drawing's rels (drawing -> charts), the sheet's rels (sheet -> drawing), the ``<drawing r:id>``
element in the sheet XML and a content-type Override per part (ECMA-376 Part 1, 21.2 and
20.5; the sheet element's position is fixed by CT_Worksheet, 18.3.1.99: after
``pageMargins``/``pageSetup``/``headerFooter``..., before ``legacyDrawing``/``tableParts``).

Each series references cells of the sheet *and* carries their values (``c:numCache`` /
``c:strCache``): readers that do not recalculate (viewers, converters, openpyxl) draw the
cache, Excel redraws from the cells.

Re-running replaces the charts xl-ar wrote before (recognised by the name of their anchor,
``xl-ar chart N``) and reuses their part names; anchors a user added to the same drawing
(pictures, their own charts) are kept with their relationships. Nothing depends on the clock
or on dictionary order, so the same charts give the same bytes: re-running is idempotent.

``WorkbookPackage`` has no public way to add a relationship, a content type or to delete a
part; the small helpers here edit the rels parts and ``[Content_Types].xml`` as text through
``read``/``set_part``/``has_part``. Deleting a part (when fewer charts are written than
before) uses ``delete_part`` when the package has one, else its internal ``_delete_part``.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import Literal, Sequence
from urllib.parse import unquote

from lxml import etree

from xl_ar.book.package import WorkbookPackage
from xl_ar.book.sheetxml import BookError, col_letter, escape_attr
from xl_ar.book.styles import safe_parse

CT_CHART = "application/vnd.openxmlformats-officedocument.drawingml.chart+xml"
CT_DRAWING = "application/vnd.openxmlformats-officedocument.drawing+xml"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_DRAWING = _R + "/drawing"
REL_CHART = _R + "/chart"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_NS_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"
_NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_NS_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
OUR_NAME = "xl-ar chart"  # anchors named "xl-ar chart 1", "xl-ar chart 2", ... are ours
EMU_PER_PIXEL = 9525
# CT_Worksheet elements that come after <drawing> (ECMA-376 Part 1, 18.3.1.99).
_AFTER_DRAWING = {"legacyDrawing", "legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls",
                  "webPublishItems", "tableParts", "extLst"}
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
PALETTE = ("4472C4", "ED7D31", "A5A5A5", "FFC000", "5B9BD5", "70AD47", "264478", "9E480E")


@dataclass(frozen=True)
class Series:
    """One series of a chart.

    Attributes:
        name: the series name (legend text).
        ref: the cells holding its values, e.g. ``"'Dashboard'!$B$5:$B$9"``.
        values: the values those cells hold now (None = blank), cached in the chart.
        name_ref: the cell holding the name, if any (otherwise the name is literal).
        color: RGB colour such as ``"C00000"`` (default: a palette colour by position).
    """

    name: str
    ref: str
    values: Sequence[float | None]
    name_ref: str | None = None
    color: str | None = None


@dataclass(frozen=True)
class ChartSpec:
    """A chart to place on a sheet.

    Attributes:
        kind: "bar" (clustered columns) or "line".
        title: the chart title (any language; written as UTF-8).
        categories: the category labels, cached in the chart.
        categories_ref: the cells holding them, e.g. ``"'Dashboard'!$A$5:$A$9"``.
        series: the series, each as long as ``categories``.
        anchor: ``(from_col, from_row, to_col, to_row)``, 0-based cell corners the chart spans.
        number_format: the value axis's number format, e.g. ``"#,##0"`` or ``"0%"``.
        lang: "zh" or "en": the language tag of the chart's text.
    """

    kind: Literal["bar", "line"]
    title: str
    categories: Sequence[str]
    categories_ref: str
    series: Sequence[Series]
    anchor: tuple[int, int, int, int]
    number_format: str = "General"
    lang: str = "en"

    def __post_init__(self) -> None:
        if self.kind not in ("bar", "line"):
            raise ValueError(f'chart kind must be "bar" or "line", not {self.kind!r}')
        if not self.series or any(len(s.values) != len(self.categories) for s in self.series):
            raise ValueError(f"chart {self.title!r}: every series needs one value per category")
        c1, r1, c2, r2 = self.anchor
        if not (0 <= c1 < c2 and 0 <= r1 < r2):
            raise ValueError(f"chart {self.title!r}: anchor {self.anchor} must span at least one cell")


def cell_range(sheet: str, first_row: int, first_col: int, last_row: int | None = None,
               last_col: int | None = None) -> str:
    """An absolute reference such as ``'仪表板'!$A$5:$A$9`` (1-based rows and columns).

    Args:
        sheet: the sheet name (always quoted; a quote in the name is doubled).
        first_row, first_col: the top-left cell.
        last_row, last_col: the bottom-right cell (default: the same cell).
    """
    quoted = "'" + sheet.replace("'", "''") + "'"
    a = f"${col_letter(first_col)}${first_row}"
    if last_row is None and last_col is None:
        return f"{quoted}!{a}"
    return f"{quoted}!{a}:${col_letter(last_col or first_col)}${last_row or first_row}"


# ----------------------------------------------------------------------------- chart XML


def _text(s: str) -> str:
    s = _ILLEGAL.sub("", str(s))
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _num(v: float) -> str:
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


def _rich(text: str, lang: str, size: int, bold: bool) -> str:
    tag = "zh-CN" if lang == "zh" else "en-US"
    b = ' b="1"' if bold else ' b="0"'
    return (f'<c:rich><a:bodyPr/><a:lstStyle/><a:p><a:pPr><a:defRPr sz="{size}"{b}/></a:pPr>'
            f'<a:r><a:rPr lang="{tag}" altLang="en-US" sz="{size}"{b}/><a:t>{_text(text)}</a:t></a:r></a:p></c:rich>')


def _str_ref(ref: str, values: Sequence[str]) -> str:
    pts = "".join(f'<c:pt idx="{i}"><c:v>{_text(v)}</c:v></c:pt>' for i, v in enumerate(values))
    return f"<c:strRef><c:f>{_text(ref)}</c:f><c:strCache><c:ptCount val=\"{len(values)}\"/>{pts}</c:strCache></c:strRef>"


def _num_ref(ref: str, values: Sequence[float | None], fmt: str) -> str:
    pts = "".join(f'<c:pt idx="{i}"><c:v>{_num(v)}</c:v></c:pt>' for i, v in enumerate(values)
                  if v is not None and v == v)  # a blank cell is a missing point (a gap)
    return (f"<c:numRef><c:f>{_text(ref)}</c:f><c:numCache><c:formatCode>{_text(fmt)}</c:formatCode>"
            f'<c:ptCount val="{len(values)}"/>{pts}</c:numCache></c:numRef>')


def _series(spec: ChartSpec, k: int, s: Series) -> str:
    color = s.color or PALETTE[k % len(PALETTE)]
    tx = (f"<c:tx>{_str_ref(s.name_ref, [s.name])}</c:tx>" if s.name_ref
          else f"<c:tx><c:v>{_text(s.name)}</c:v></c:tx>")
    if spec.kind == "bar":
        look = f'<c:spPr><a:solidFill><a:srgbClr val="{color}"/></a:solidFill></c:spPr><c:invertIfNegative val="0"/>'
    else:
        look = (f'<c:spPr><a:ln w="28575" cap="rnd"><a:solidFill><a:srgbClr val="{color}"/></a:solidFill>'
                f'<a:round/></a:ln></c:spPr><c:marker><c:symbol val="circle"/><c:size val="5"/>'
                f'<c:spPr><a:solidFill><a:srgbClr val="{color}"/></a:solidFill></c:spPr></c:marker>')
    tail = '<c:smooth val="0"/>' if spec.kind == "line" else ""
    # CT_BarSer / CT_LineSer order: idx, order, tx, spPr, (invertIfNegative | marker), cat, val, (smooth)
    return (f'<c:ser><c:idx val="{k}"/><c:order val="{k}"/>{tx}{look}'
            f"<c:cat>{_str_ref(spec.categories_ref, [str(c) for c in spec.categories])}</c:cat>"
            f"<c:val>{_num_ref(s.ref, s.values, spec.number_format)}</c:val>{tail}</c:ser>")


def chart_xml(spec: ChartSpec) -> bytes:
    """The ``c:chartSpace`` part of one chart.

    Args:
        spec: the chart.

    Returns:
        UTF-8 XML bytes, the same for the same spec.
    """
    sers = "".join(_series(spec, k, s) for k, s in enumerate(spec.series))
    ax = '<c:axId val="500000001"/><c:axId val="500000002"/>'
    if spec.kind == "bar":
        plot = (f'<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>{sers}'
                f'<c:gapWidth val="80"/>{ax}</c:barChart>')
    else:
        plot = (f'<c:lineChart><c:grouping val="standard"/><c:varyColors val="0"/>{sers}'
                f'<c:marker val="1"/>{ax}</c:lineChart>')
    tick = '<c:majorTickMark val="out"/><c:minorTickMark val="none"/><c:tickLblPos val="nextTo"/>'
    cat_ax = (f'<c:catAx><c:axId val="500000001"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
              f'<c:delete val="0"/><c:axPos val="b"/><c:numFmt formatCode="General" sourceLinked="0"/>{tick}'
              f'<c:crossAx val="500000002"/><c:crosses val="autoZero"/><c:auto val="1"/><c:lblAlgn val="ctr"/>'
              f'<c:lblOffset val="100"/><c:noMultiLvlLbl val="0"/></c:catAx>')
    val_ax = (f'<c:valAx><c:axId val="500000002"/><c:scaling><c:orientation val="minMax"/></c:scaling>'
              f'<c:delete val="0"/><c:axPos val="l"/><c:majorGridlines/>'
              f'<c:numFmt formatCode="{escape_attr(spec.number_format)}" sourceLinked="0"/>{tick}'
              f'<c:crossAx val="500000001"/><c:crosses val="autoZero"/><c:crossBetween val="between"/></c:valAx>')
    legend = '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend>' if len(spec.series) > 1 else ""
    lang = "zh-CN" if spec.lang == "zh" else "en-US"
    xml = (f'{_HEAD}<c:chartSpace xmlns:c="{_NS_C}" xmlns:a="{_NS_A}" xmlns:r="{_R}">'
           f'<c:date1904 val="0"/><c:lang val="{lang}"/><c:roundedCorners val="0"/>'
           f'<c:chart><c:title><c:tx>{_rich(spec.title, spec.lang, 1400, True)}</c:tx><c:overlay val="0"/></c:title>'
           f'<c:autoTitleDeleted val="0"/><c:plotArea><c:layout/>{plot}{cat_ax}{val_ax}</c:plotArea>{legend}'
           f'<c:plotVisOnly val="1"/><c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>')
    return xml.encode("utf-8")


def _anchor_xml(spec: ChartSpec, shape_id: int, k: int, rid: str) -> str:
    c1, r1, c2, r2 = spec.anchor
    corner = "<xdr:col>{}</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>{}</xdr:row><xdr:rowOff>0</xdr:rowOff>"
    # Namespaces declared on the anchor itself: it may sit under a user's drawing root that
    # binds other prefixes (openpyxl writes xdr as the default namespace).
    return (f'<xdr:twoCellAnchor xmlns:xdr="{_NS_XDR}" xmlns:a="{_NS_A}">'
            f"<xdr:from>{corner.format(c1, r1)}</xdr:from><xdr:to>{corner.format(c2, r2)}</xdr:to>"
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{shape_id}" name="{OUR_NAME} {k}" '
            f'descr="{escape_attr(_ILLEGAL.sub("", spec.title))}"/><xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>'
            f'<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm><a:graphic>'
            f'<a:graphicData uri="{_NS_C}"><c:chart xmlns:c="{_NS_C}" xmlns:r="{_R}" r:id="{rid}"/>'
            f"</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>")


# ----------------------------------------------------------------------------- package helpers


def _rels_part(part: str) -> str:
    d, base = posixpath.split(part)
    return posixpath.join(d, "_rels", base + ".rels")


def _read_rels(pkg: WorkbookPackage, part: str) -> list[dict[str, str]]:
    """The relationships of ``part`` as attribute dicts (``Id``, ``Type``, ``Target``, ...)."""
    rp = _rels_part(part)
    if not pkg.has_part(rp):
        return []
    return [dict(el.attrib) for el in safe_parse(pkg.read(rp), rp) if isinstance(el.tag, str)]


def _resolve(source: str, rel: dict[str, str]) -> str | None:
    """The part a relationship targets (None for an external target)."""
    if rel.get("TargetMode") == "External":
        return None
    target = unquote(rel.get("Target", ""))
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source), target))


def _rel_xml(r: dict[str, str]) -> str:
    attrs = "".join(f' {k}="{escape_attr(r[k])}"' for k in ("Id", "Type", "Target", "TargetMode") if k in r)
    return f"<Relationship{attrs}/>"


def _rels_xml(rels: list[dict[str, str]]) -> bytes:
    return f'{_HEAD}<Relationships xmlns="{_PKG_RELS}">{"".join(map(_rel_xml, rels))}</Relationships>'.encode()


def _edit_rels(pkg: WorkbookPackage, part: str, add: dict[str, str] | None, remove: str | None,
               changed: list[str]) -> None:
    """Add or remove one relationship of ``part`` as text, leaving the others byte for byte."""
    rp = _rels_part(part)
    x = pkg.read(rp) if pkg.has_part(rp) else _rels_xml([])
    if remove is not None:
        pat = rb'<(?:\w+:)?Relationship\b[^>]*?\sId="' + re.escape(remove.encode()) + rb'"[^>]*?(?:/>|>\s*</(?:\w+:)?Relationship>)'
        x = re.sub(pat, b"", x, count=1)
    if add is not None:
        end = re.search(rb"</(?:\w+:)?Relationships>", x)
        x = x[: end.start()] + _rel_xml(add).encode() + x[end.start():]
    _put(pkg, rp, x, changed)


def _put(pkg: WorkbookPackage, part: str, data: bytes, changed: list[str]) -> None:
    """Set a part only when its bytes differ (an unchanged book stays unchanged)."""
    if not pkg.has_part(part) or pkg.read(part) != data:
        pkg.set_part(part, data)
        changed.append(part)


def _delete(pkg: WorkbookPackage, part: str, changed: list[str]) -> None:
    if pkg.has_part(part):
        delete = getattr(pkg, "delete_part", None) or pkg._delete_part  # no public delete yet
        delete(part)
        changed.append(part)
    _override(pkg, part, None, changed)
    if pkg.has_part(_rels_part(part)):
        _delete(pkg, _rels_part(part), changed)


def _override(pkg: WorkbookPackage, part: str, content_type: str | None, changed: list[str]) -> None:
    """Add (or with None remove) a part's content-type Override; an equal one is left alone."""
    x = pkg.read("[Content_Types].xml")
    name = ("/" + part).encode()
    pat = re.compile(rb'<(?:\w+:)?Override\b[^>]*?\sPartName="' + re.escape(name) + rb'"[^>]*?/>', re.I)
    found = pat.search(x)
    if found and content_type and b'ContentType="' + content_type.encode() + b'"' in found.group(0):
        return
    x = pat.sub(b"", x)
    if content_type:
        el = f'<Override PartName="{escape_attr("/" + part)}" ContentType="{content_type}"/>'.encode()
        end = re.search(rb"</(?:\w+:)?Types>", x)
        x = x[: end.start()] + el + x[end.start():]
    _put(pkg, "[Content_Types].xml", x, changed)


def _free_part(pkg: WorkbookPackage, pattern: str, taken: set[str]) -> str:
    n = 1
    while pkg.has_part(pattern.format(n)) or pattern.format(n) in taken:
        n += 1
    return pattern.format(n)


def _next_rid(used: set[str]) -> str:
    n = 1
    while f"rId{n}" in used:
        n += 1
    used.add(f"rId{n}")
    return f"rId{n}"


# ----------------------------------------------------------------------------- the sheet element


def _top_level(tail: bytes) -> list[tuple[str, int, int]]:
    """(local name, start, end) of the top-level elements in a run of worksheet XML."""
    out, depth, start, name = [], 0, 0, ""
    for m in re.finditer(rb"<(/?)([A-Za-z_][\w.:-]*)[^>]*?(/?)>", tail):
        closing, selfclose = m.group(1) == b"/", m.group(3) == b"/"
        local = m.group(2).split(b":")[-1].decode()
        if closing:
            depth -= 1
            if depth == 0:
                out.append((name, start, m.end()))
        elif depth == 0 and selfclose:
            out.append((local, m.start(), m.end()))
        else:
            if depth == 0:
                start, name = m.start(), local
            depth += 0 if selfclose else 1
    return out


def _sheet_with_drawing(x: bytes, rid: str | None) -> bytes:
    """The worksheet XML with its ``<drawing>`` element set to ``rid`` (None removes it)."""
    root = re.search(rb"<(?:(\w+):)?worksheet\b[^>]*>", x)
    if not root:
        raise BookError("the sheet XML has no <worksheet> element")
    p = root.group(1) + b":" if root.group(1) else b""
    at = x.rfind(b"sheetData")
    if at < 0:
        raise BookError("the sheet XML has no <sheetData>")
    tail_start = x.index(b">", at) + 1
    close = x.rfind(b"</" + p + b"worksheet>")
    tail = x[tail_start:close]
    elements = [e for e in _top_level(tail) if e[0] != "drawing"]
    kept = b"".join(tail[s:e] for _, s, e in elements)
    if rid is None:
        return x[:tail_start] + kept + x[close:]
    rm = re.search(rb'xmlns:(\w+)="' + re.escape(_R.encode()) + b'"', root.group(0))
    attr = rm.group(1) + b':id="' if rm else b'xmlns:r="' + _R.encode() + b'" r:id="'
    el = b"<" + p + b"drawing " + attr + rid.encode() + b'"/>'
    pieces, placed = [], False
    for name, s, e in elements:
        if not placed and name in _AFTER_DRAWING:
            pieces.append(el)
            placed = True
        pieces.append(tail[s:e])
    if not placed:
        pieces.append(el)
    return x[:tail_start] + b"".join(pieces) + x[close:]


def _split_drawing(x: bytes, part: str, frame: tuple[bytes, bytes]) -> tuple[tuple[bytes, bytes], list]:
    """((text up to and with the root's start tag, its end tag), [(anchor element, its bytes)]).

    Anchors are kept as the bytes they were, under the root tag they had (which binds their
    prefixes): re-serialising them would not give the same bytes twice.
    """
    root = safe_parse(x, part)
    anchors = [el for el in root if isinstance(el.tag, str)]
    start = re.search(rb"<(?:(\w+):)?wsDr\b[^>]*?(/?)>", x)
    if not start or start.group(2):
        return frame, []
    p = start.group(1) + b":" if start.group(1) else b""
    end = x.rfind(b"</" + p + b"wsDr>")
    inner = x[start.end():end]
    spans = _top_level(inner)
    if len(spans) != len(anchors):  # not plain elements (comments, CDATA?): write them anew
        return frame, [(a, etree.tostring(a)) for a in anchors]
    return (x[: start.end()], x[end:]), [(a, inner[s:e]) for a, (_, s, e) in zip(anchors, spans)]


# ----------------------------------------------------------------------------- add_charts


def add_charts(pkg: WorkbookPackage, sheet_name: str, charts: Sequence[ChartSpec]) -> list[str]:
    """Put native charts on a sheet, replacing the charts xl-ar put there before.

    Args:
        pkg: the open workbook package (not saved here).
        sheet_name: the worksheet to draw on (it must exist; set its XML first).
        charts: the charts, in order; empty removes ours.

    Returns:
        The parts changed, added or removed (empty when the book already had these charts).
    """
    changed: list[str] = []
    sheet = pkg.sheet_part(sheet_name)
    sheet_rels = _read_rels(pkg, sheet)
    d_rel = next((r for r in sheet_rels if r.get("Type") == REL_DRAWING), None)
    drawing = _resolve(sheet, d_rel) if d_rel else None
    foreign_anchors: list[bytes] = []
    foreign_rels: list[dict[str, str]] = []
    old_charts: list[str] = []
    frame = (f'{_HEAD}<xdr:wsDr xmlns:xdr="{_NS_XDR}" xmlns:a="{_NS_A}">'.encode(), b"</xdr:wsDr>")
    ids: list[int] = []
    if drawing and pkg.has_part(drawing):
        rels = {r.get("Id"): r for r in _read_rels(pkg, drawing)}
        ours_rids: list[str] = []
        frame, raw = _split_drawing(pkg.read(drawing), drawing, frame)
        for anchor, text in raw:
            names = [el.get("name", "") for el in anchor.iter("{%s}cNvPr" % _NS_XDR)]
            chart = next(anchor.iter("{%s}chart" % _NS_C), None)
            if chart is not None and names and names[0].startswith(OUR_NAME):
                ours_rids.append(chart.get("{%s}id" % _R, ""))
            else:
                foreign_anchors.append(text)
                ids += [int(i) for el in anchor.iter("{%s}cNvPr" % _NS_XDR) if (i := el.get("id", "")).isdigit()]
        old_charts = [p for rid in ours_rids if rid in rels and (p := _resolve(drawing, rels[rid])) is not None]
        foreign_rels = [r for rid, r in rels.items() if rid not in ours_rids]
    elif drawing is None and charts:
        drawing = _free_part(pkg, "xl/drawings/drawing{}.xml", set())

    parts: list[str] = []
    for k in range(len(charts)):  # reuse our old part names, in order; then new free names
        parts.append(old_charts[k] if k < len(old_charts) else _free_part(pkg, "xl/charts/chart{}.xml", set(parts)))
    for old in old_charts[len(charts):]:
        _delete(pkg, old, changed)

    if not charts and not foreign_anchors:  # nothing left to draw: no drawing at all
        if drawing:
            _delete(pkg, drawing, changed)
        if d_rel:
            _edit_rels(pkg, sheet, None, d_rel["Id"], changed)
        _put(pkg, sheet, _sheet_with_drawing(pkg.read(sheet), None), changed)
        return list(dict.fromkeys(changed))

    used = {r["Id"] for r in foreign_rels}
    first_id = max([1, *ids]) + 1
    anchors, rels_out = list(foreign_anchors), list(foreign_rels)
    for k, (spec, part) in enumerate(zip(charts, parts)):
        rid = _next_rid(used)
        rels_out.append({"Id": rid, "Type": REL_CHART, "Target": posixpath.relpath(part, posixpath.dirname(drawing))})
        anchors.append(_anchor_xml(spec, first_id + k, k + 1, rid).encode("utf-8"))
        _put(pkg, part, chart_xml(spec), changed)
        _override(pkg, part, CT_CHART, changed)
    _put(pkg, drawing, frame[0] + b"".join(anchors) + frame[1], changed)
    _put(pkg, _rels_part(drawing), _rels_xml(rels_out), changed)
    _override(pkg, drawing, CT_DRAWING, changed)
    if d_rel is None:
        d_rel = {"Id": _next_rid({r["Id"] for r in sheet_rels}), "Type": REL_DRAWING,
                 "Target": posixpath.relpath(drawing, posixpath.dirname(sheet))}
        _edit_rels(pkg, sheet, d_rel, None, changed)
    _put(pkg, sheet, _sheet_with_drawing(pkg.read(sheet), d_rel["Id"]), changed)
    return list(dict.fromkeys(changed))

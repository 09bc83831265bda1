"""The fixed parts of the statement workbook (``statement_xlsx``): styles, content types,
relationships, application properties, column widths.

Built once, at import. The styles come from :data:`LOOKS`, the one table of the cell formats
the layout uses: a look's position in it is its style index (``s=""`` of a cell). Parts that
never change are deflated once too (:data:`FIXED`).
"""

from __future__ import annotations

from xl_ar.book.deflate import CRC_MASK, DeflatedPart, deflate, z
from xl_ar.book.sheetxml import MAIN_NS, REL_NS
from xl_ar.core.money import CURRENCY_EXPONENTS

XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument"

DATE = "yyyy-mm-dd"
TEXT_FORMAT = "@"  # the marker's cells: a re-save keeps "20000.00" as typed
HEAD_FILL, INPUT_FILL = "DDEBF7", "FFF2CC"  # column heads; pale yellow: "the customer fills this"
CENTER = '<alignment horizontal="center"/>'
CENTER_WRAP = '<alignment horizontal="center" wrapText="1"/>'
TOP_WRAP = '<alignment vertical="top" wrapText="1"/>'
#: Widths of columns A..J in characters as Excel shows them; K (the line keys) is hidden.
WIDTHS = (12, 11, 15, 30, 12, 15, 15, 16, 14, 30)


def money_format(exp: int) -> str:
    """The number format of amounts with ``exp`` decimals: ``#,##0.00;-#,##0.00``, ``#,##0``."""
    return "#,##0" if exp == 0 else "#,##0." + "0" * exp + ";-#,##0." + "0" * exp


def _look(fmt: str = "General", bold: bool = False, size: int = 11, fill: str = "", box: bool = False,
          align: str = "") -> tuple[str, bool, int, str, bool, str]:
    """A cell format: number format, bold, font size, fill colour, thin grey box, alignment."""
    return fmt, bold, size, fill, box, align


#: Every cell format of the layout, by name: amounts in three looks for each minor-unit exponent a
#: currency has ("amount2_bold": 2 decimals, bold). The first is the format (style 0) of unstyled cells.
LOOKS = {
    "plain": _look(),
    "bold": _look(bold=True),
    "company": _look(bold=True, size=14),
    "title": _look(bold=True, size=13),
    "heading": _look(bold=True, size=12),
    "column_head": _look(bold=True, fill=HEAD_FILL, box=True, align=CENTER_WRAP),
    "aging_head": _look(bold=True, fill=HEAD_FILL, align=CENTER),
    "note": _look(align=TOP_WRAP),
    "date": _look(DATE),
    "ask": _look(fill=INPUT_FILL, box=True),
    "ask_date": _look(DATE, fill=INPUT_FILL, box=True),
    "marker": _look(TEXT_FORMAT),
}
for _exp in sorted(set(CURRENCY_EXPONENTS.values())):
    LOOKS[f"amount{_exp}"] = _look(money_format(_exp))
    LOOKS[f"amount{_exp}_bold"] = _look(money_format(_exp), bold=True)
    LOOKS[f"amount{_exp}_closing"] = _look(money_format(_exp), bold=True, size=12)
#: Look name -> style index.
STYLE = {name: i for i, name in enumerate(LOOKS)}

_BUILTIN_FORMATS = {"General": 0, "#,##0": 3, TEXT_FORMAT: 49}


def _styles_xml() -> str:
    """styles.xml holding exactly :data:`LOOKS`, in order, and the fonts, fills and formats they use."""
    formats = {f: _BUILTIN_FORMATS.get(f) for f in dict.fromkeys(look[0] for look in LOOKS.values())}
    custom = [f for f, i in formats.items() if i is None]
    formats.update({f: 164 + i for i, f in enumerate(custom)})
    fonts = list(dict.fromkeys((look[1], look[2]) for look in LOOKS.values()))
    fills = ["none", "gray125"] + list(dict.fromkeys(look[3] for look in LOOKS.values() if look[3]))
    xfs = []
    for fmt, bold, size, fill, box, align in LOOKS.values():
        ids = (formats[fmt], fonts.index((bold, size)), fills.index(fill) if fill else 0, int(box))
        applied = "".join(f' apply{k}="1"' for k, on in (("NumberFormat", ids[0]), ("Font", ids[1]), ("Fill", ids[2]),
                                                          ("Border", box), ("Alignment", align)) if on)
        head = '<xf numFmtId="{}" fontId="{}" fillId="{}" borderId="{}" xfId="0"'.format(*ids) + applied
        xfs.append(f"{head}>{align}</xf>" if align else f"{head}/>")
    side = '<{0} style="thin"><color rgb="FF808080"/></{0}>'
    return "".join([
        XML_HEAD, f'<styleSheet xmlns="{MAIN_NS.decode()}">',
        f'<numFmts count="{len(custom)}">',
        *(f'<numFmt numFmtId="{formats[f]}" formatCode="{f}"/>' for f in custom), "</numFmts>",
        f'<fonts count="{len(fonts)}">',
        *(f'<font>{"<b/>" if b else ""}<sz val="{s}"/><name val="Calibri"/><family val="2"/></font>' for b, s in fonts),
        f'</fonts><fills count="{len(fills)}">',
        *(f'<fill><patternFill patternType="{f}"/></fill>' for f in fills[:2]),
        *(f'<fill><patternFill patternType="solid"><fgColor rgb="FF{f}"/><bgColor indexed="64"/></patternFill></fill>'
          for f in fills[2:]),
        '</fills><borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border><border>',
        *(side.format(s) for s in ("left", "right", "top", "bottom")), "<diagonal/></border></borders>",
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>',
        f'<cellXfs count="{len(xfs)}">', *xfs, "</cellXfs>",
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>',
        '<dxfs count="0"/>',
        '<tableStyles count="0" defaultTableStyle="TableStyleMedium9" defaultPivotStyle="PivotStyleLight16"/>',
        "</styleSheet>",
    ])


def _stored_width(chars: float) -> float:
    """The ``<col width>`` Excel stores for a width typed in its UI: the characters (7 px each
    in Calibri 11) plus 5 px of padding, in 1/256 of a character (12 -> 12.7109375)."""
    return int((int(chars * 7 + 0.5) + 5) / 7 * 256) / 256


#: The ``<cols>`` of the statement sheet: A..J as :data:`WIDTHS`, K hidden.
COLS = "".join(["<cols>", *(f'<col min="{i}" max="{i}" width="{_stored_width(w)}" customWidth="1"/>'
                             for i, w in enumerate(WIDTHS, start=1)),
                f'<col min="{len(WIDTHS) + 1}" max="{len(WIDTHS) + 1}" width="0" hidden="1" customWidth="1"/>',
                "</cols>"])

SHEET_HEAD = f'{XML_HEAD}<worksheet xmlns="{MAIN_NS.decode()}" xmlns:r="{REL_NS}">'
SST_HEAD = f'{XML_HEAD}<sst xmlns="{MAIN_NS.decode()}" uniqueCount="{{count}}">'
PAGE_MARGINS = '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
#: Landscape, fit to one page wide (``fitToPage`` in ``sheetPr`` turns the fitting on).
PAGE_SETUP = '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/>'
FIT_TO_PAGE = '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'

WORKBOOK_HEAD = (
    f'{XML_HEAD}<workbook xmlns="{MAIN_NS.decode()}" xmlns:r="{REL_NS}">'
    '<fileVersion appName="xl" lastEdited="4" lowestEdited="4" rupBuild="4505"/>'
    '<workbookPr defaultThemeVersion="124226"/>'
    '<bookViews><workbookView xWindow="240" yWindow="15" windowWidth="16095" windowHeight="9660"/></bookViews>'
)
WORKBOOK_TAIL = '<calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>'

CORE_TEMPLATE = (
    f'{XML_HEAD}<cp:coreProperties '
    'xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
    'xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
    '<dc:title>{title}</dc:title><dc:creator>{author}</dc:creator><cp:lastModifiedBy>{author}</cp:lastModifiedBy>'
    '<dcterms:created xsi:type="dcterms:W3CDTF">{when}</dcterms:created>'
    '<dcterms:modified xsi:type="dcterms:W3CDTF">{when}</dcterms:modified></cp:coreProperties>'
)

_CONTENT_TYPES = (
    f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.spreadsheetml.sheet.main+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
    f'<Override PartName="/xl/worksheets/sheet2.xml" ContentType="{_CT}.spreadsheetml.worksheet+xml"/>'
    f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.spreadsheetml.styles+xml"/>'
    f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_CT}.spreadsheetml.sharedStrings+xml"/>'
    '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
    f'<Override PartName="/docProps/app.xml" ContentType="{_CT}.extended-properties+xml"/></Types>'
)
_ROOT_RELS = (
    f'{XML_HEAD}<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_DOC_REL}/officeDocument" Target="xl/workbook.xml"/>'
    f'<Relationship Id="rId2" Type="{_PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>'
    f'<Relationship Id="rId3" Type="{_DOC_REL}/extended-properties" Target="docProps/app.xml"/></Relationships>'
)
_WORKBOOK_RELS = (
    f'{XML_HEAD}<Relationships xmlns="{_PKG_REL}">'
    f'<Relationship Id="rId1" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{_DOC_REL}/worksheet" Target="worksheets/sheet2.xml"/>'
    f'<Relationship Id="rId3" Type="{_DOC_REL}/styles" Target="styles.xml"/>'
    f'<Relationship Id="rId4" Type="{_DOC_REL}/sharedStrings" Target="sharedStrings.xml"/></Relationships>'
)
_APP = (
    f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
    'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    "<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>"
    "<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged>"
    "<AppVersion>12.0000</AppVersion></Properties>"
)


def _deflated(text: str) -> DeflatedPart:
    data = text.encode("utf-8")
    return DeflatedPart(deflate(data), z.crc32(data) & CRC_MASK, len(data))


#: The parts every statement workbook holds unchanged, already deflated, by name.
FIXED = {
    "[Content_Types].xml": _deflated(_CONTENT_TYPES),
    "_rels/.rels": _deflated(_ROOT_RELS),
    "docProps/app.xml": _deflated(_APP),
    "xl/_rels/workbook.xml.rels": _deflated(_WORKBOOK_RELS),
    "xl/styles.xml": _deflated(_styles_xml()),
}

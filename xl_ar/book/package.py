"""A user's workbook as a zip package: read parts, replace the parts the tool owns, save safely.

openpyxl drops charts, pictures, pivots, slicers and more on load + save, so a user's ledger is
never round-tripped through it. Instead the package is rewritten member by member: a member the
tool did not change is copied raw (its compressed bytes, CRC, name, date and order unchanged);
a changed one is deflated anew at level 1 (ISA-L when available: the level, not the library,
dominates the time). Small XML parts are edited as text, so what the tool does not understand
survives byte for byte.

Limits (zip and XML bombs): at most ``MAX_MEMBERS`` members and ``MAX_TOTAL_SIZE`` uncompressed
bytes in all; a member over ``RATIO_FLOOR`` bytes may not expand more than ``MAX_RATIO`` times
(a 1,048,575-row sheet is ~150-600 MB of XML and deflates 5-15:1); a member never inflates past
its declared size; XML with a DOCTYPE or entity declaration is refused.

Adding a sheet leaves ``docProps/app.xml`` (TitlesOfParts, HeadingPairs) alone: it is
informational, Excel rewrites it on its next save and openpyxl-written books carry none; what
makes Excel repair a file is an inconsistent one (a HeadingPairs count that does not match the
titles), which a partial edit risks and leaving it alone cannot cause.
"""

from __future__ import annotations

import os
import posixpath
import re
import shutil
import struct
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import unquote

from xl_ar.book.sheetxml import MAX_COL, BookError, OutColumn, col_letter, escape_attr, splice_columns, split_ref
from xl_ar.book.styles import StyleSheet, safe_parse

try:  # ISA-L's deflate is ~4x faster than zlib's at level 1
    from isal import isal_zlib as _z
except ImportError:  # pragma: no cover - isal is a declared dependency
    _z = zlib

__all__ = ["BookError", "BookLockedError", "WorkbookPackage", "backup", "check_not_open"]

MAX_MEMBERS = 50_000
MAX_TOTAL_SIZE = 2 << 30
MAX_RATIO = 200
RATIO_FLOOR = 10 << 20
BACKUP_DIR = ".xl-ar-backups"
KEEP_BACKUPS = 20

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_WORKSHEET = REL + "/worksheet"
REL_STYLES = REL + "/styles"
_STRICT = b"http://purl.oclc.org/ooxml/spreadsheetml/main"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_U32, _U16 = 0xFFFFFFFF, 0xFFFF  # fields that overflow at these values move to ZIP64 records
_CRC_MASK = 0xFFFFFFFF
_DOS_1980 = (0, 0x21)  # (time, date) of 1980-01-01 00:00:00, for members we add


class BookLockedError(BookError):
    """The workbook is open in Excel (or LibreOffice): writing it now would lose someone's work."""


@dataclass
class _Member:
    info: zipfile.ZipInfo
    name_bytes: bytes
    data_offset: int


@dataclass(frozen=True)
class _SheetEntry:
    name: str
    sheet_id: int
    rid: str
    part: str | None
    rel_type: str


class WorkbookPackage:
    """An .xlsx/.xlsm file opened for targeted changes. Nothing is written until :meth:`save`."""

    def __init__(self, path: Path):
        """Use :meth:`open`."""
        self.path = path
        self._members: dict[str, _Member] = {}
        self._lower: dict[str, str] = {}
        self._order: list[str] = []
        self._changes: dict[str, bytes] = {}
        self._added: list[str] = []
        self._deleted: set[str] = set()
        self._styles: StyleSheet | None = None
        self._styles_name = ""
        self._comment = b""
        self._stamp: tuple[int, int] = (0, 0)

    # ------------------------------------------------------------------------- opening

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> WorkbookPackage:
        """Read a workbook's zip directory and check it is a workbook we can safely handle.

        Args:
            path: the .xlsx/.xlsm file.

        Returns:
            The package, with no changes yet.
        """
        pkg = cls(Path(path))
        pkg._load()
        return pkg

    def _load(self) -> None:
        path, name = self.path, self.path.name
        try:
            st = path.stat()
            with open(path, "rb") as f:
                head = f.read(8)
        except FileNotFoundError:
            raise BookError(f"{name}: no such file") from None
        except PermissionError:
            raise BookError(f"{name}: permission denied") from None
        if head == _OLE_MAGIC:
            raise BookError(f"{name} is password-protected or an old .xls file: save it as .xlsx/.xlsm without a password")
        try:
            with zipfile.ZipFile(path) as zf:
                infos, self._comment = zf.infolist(), zf.comment
        except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
            raise BookError(f"{name} is not an Excel workbook (.xlsx/.xlsm): {exc}") from None
        if len(infos) > MAX_MEMBERS:
            raise BookError(f"{name} has {len(infos)} zip members, more than the {MAX_MEMBERS} allowed")
        total = sum(i.file_size for i in infos)
        if total > MAX_TOTAL_SIZE:
            raise BookError(f"{name} would expand to {total >> 20} MiB, more than the {MAX_TOTAL_SIZE >> 20} MiB allowed")
        self._members, self._lower, self._order = {}, {}, []
        with open(path, "rb") as f:
            for info in infos:
                self._check_member(name, info, st.st_size)
                f.seek(info.header_offset)
                local = f.read(30)
                if len(local) < 30 or local[:4] != b"PK\x03\x04":
                    raise BookError(f"{name}: zip member {info.filename} has no valid local header")
                n_len, e_len = struct.unpack("<HH", local[26:30])
                enc = "utf-8" if info.flag_bits & 0x800 else "cp437"
                member = _Member(info, info.orig_filename.encode(enc), info.header_offset + 30 + n_len + e_len)
                if member.data_offset + info.compress_size > st.st_size:
                    raise BookError(f"{name}: zip member {info.filename} runs past the end of the file")
                if info.filename.lower() in self._lower:
                    raise BookError(f"{name}: the zip holds {info.filename} twice")
                self._members[info.filename] = member
                self._lower[info.filename.lower()] = info.filename
                self._order.append(info.filename)
        self._changes, self._added, self._deleted, self._styles = {}, [], set(), None
        self._stamp = (st.st_size, st.st_mtime_ns)
        if not self.has_part("[Content_Types].xml"):
            raise BookError(f"{name} is not an Excel workbook: it has no [Content_Types].xml")
        safe_parse(self.read("[Content_Types].xml"), "[Content_Types].xml")
        wb = self._workbook_part()
        if _STRICT in self.read(wb)[:4096]:
            raise BookError(f"{name} is a Strict Open XML workbook: save it as an ordinary Excel workbook")
        safe_parse(self.read(wb), wb)

    @staticmethod
    def _check_member(name: str, info: zipfile.ZipInfo, size: int) -> None:
        if info.flag_bits & 0x1:
            raise BookError(f"{name}: zip member {info.filename} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise BookError(f"{name}: zip member {info.filename} uses an unsupported compression method")
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise BookError(
                f"{name}: zip member {info.filename} expands more than {MAX_RATIO}:1 (a zip bomb?); refused"
            )
        if info.header_offset + 30 > size:
            raise BookError(f"{name}: zip member {info.filename} lies outside the file")

    # ------------------------------------------------------------------------- parts

    def _canon(self, part: str) -> str:
        """Part names are case-insensitive (OPC); zip names have no leading slash."""
        part = part.lstrip("/")
        return self._lower.get(part.lower(), part)

    def has_part(self, part: str) -> bool:
        """Return True when the package holds ``part`` (e.g. ``"xl/styles.xml"``)."""
        part = self._canon(part)
        return part not in self._deleted and (part in self._changes or part in self._members)

    def read(self, part: str) -> bytes:
        """Return a part's current content (a pending change, or the inflated original).

        Args:
            part: the part name, e.g. ``"xl/worksheets/sheet1.xml"`` (a leading ``/`` is fine).

        Returns:
            The bytes of the part.
        """
        part = self._canon(part)
        if part in self._deleted or (part not in self._changes and part not in self._members):
            raise BookError(f"{self.path.name}: no part {part}")
        if part in self._changes:
            return self._changes[part]
        m = self._members[part]
        with open(self.path, "rb") as f:
            f.seek(m.data_offset)
            raw = f.read(m.info.compress_size)
        if m.info.compress_type == zipfile.ZIP_STORED:
            data = raw
        else:
            d = _z.decompressobj(-15)
            try:  # never more than declared: a lying header cannot balloon memory
                data = d.decompress(raw, m.info.file_size + 1)
            except Exception as exc:  # isal and zlib raise different classes
                raise BookError(f"{self.path.name}: {part} is corrupt ({exc})") from None
            if not d.eof and len(data) <= m.info.file_size:
                raise BookError(f"{self.path.name}: {part} is truncated")
        if len(data) != m.info.file_size or (_z.crc32(data) & _CRC_MASK) != m.info.CRC:
            raise BookError(f"{self.path.name}: {part} is corrupt (size or CRC does not match)")
        return data

    def set_part(self, part: str, data: bytes) -> None:
        """Replace a part, or add it (the caller adds its content type when ``.xml`` is not enough).

        Args:
            part: the part name.
            data: its new content.
        """
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("part data must be bytes")
        part = self._canon(part)
        self._deleted.discard(part)
        if part not in self._members and part not in self._added:
            self._added.append(part)
            self._lower[part.lower()] = part
        self._changes[part] = bytes(data) if isinstance(data, bytearray) else data

    def _delete_part(self, part: str) -> None:
        part = self._canon(part)
        self._changes.pop(part, None)
        if part in self._added:
            self._added.remove(part)
            del self._lower[part.lower()]
        else:
            self._deleted.add(part)

    @property
    def changed_parts(self) -> list[str]:
        """Parts replaced, added or removed since the package was opened (sorted)."""
        return sorted(set(self._changes) | self._deleted)

    # ------------------------------------------------------------------------- relationships

    @staticmethod
    def _rels_part(part: str) -> str:
        d, base = posixpath.split(part)
        return posixpath.join(d, "_rels", base + ".rels")

    def _rels(self, part: str) -> list[tuple[str, str, str | None]]:
        """``(Id, Type, resolved target part or None for external)`` of a part's relationships."""
        rp = self._rels_part(part)
        if not self.has_part(rp):
            return []
        out = []
        for rel in safe_parse(self.read(rp), rp):
            if not isinstance(rel.tag, str):
                continue
            target = unquote(rel.get("Target", ""))
            if rel.get("TargetMode") == "External":
                resolved = None
            elif target.startswith("/"):
                resolved = self._canon(target)
            else:
                resolved = self._canon(posixpath.normpath(posixpath.join(posixpath.dirname(part), target)))
            out.append((rel.get("Id", ""), rel.get("Type", ""), resolved))
        return out

    def _workbook_part(self) -> str:
        for _, typ, target in self._rels(""):
            if typ.endswith("/officeDocument") and target:
                if not self.has_part(target):
                    break
                return target
        raise BookError(f"{self.path.name} is not an Excel workbook: no workbook part")

    def _add_rel(self, part: str, typ: str, target: str) -> str:
        """Add a relationship to ``part``'s rels (created if missing); return its new Id."""
        rp = self._rels_part(part)
        if self.has_part(rp):
            x = self.read(rp)
        else:
            x = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
                 b'http://schemas.openxmlformats.org/package/2006/relationships"></Relationships>')
        ids = {rid for rid, _, _ in self._rels(part)} if self.has_part(rp) else set()
        n = max([0] + [int(m) for m in re.findall(r"^rId(\d+)$", "\n".join(ids), re.M)]) + 1
        rid = f"rId{n}"
        el = f'<Relationship Id="{rid}" Type="{typ}" Target="{escape_attr(target)}"/>'.encode()
        m = re.search(rb"</(?:\w+:)?Relationships>", x)
        self.set_part(rp, x[: m.start()] + el + x[m.start():])
        return rid

    def _remove_rel(self, part: str, rid: str) -> None:
        rp = self._rels_part(part)
        x = self.read(rp)
        pat = rb'<(?:\w+:)?Relationship\b[^>]*?\sId="' + re.escape(rid.encode()) + rb'"[^>]*?(?:/>|>\s*</(?:\w+:)?Relationship>)'
        self.set_part(rp, re.sub(pat, b"", x, count=1))

    def _set_override(self, part: str, content_type: str | None) -> None:
        """Add (or, with None, remove) the content-type Override of ``part``."""
        x = self.read("[Content_Types].xml")
        name = "/" + part
        pat = rb'<(?:\w+:)?Override\b[^>]*?\sPartName="' + re.escape(name.encode()) + rb'"[^>]*?/>'
        x = re.sub(pat, b"", x, flags=re.I)
        if content_type:
            el = f'<Override PartName="{escape_attr(name)}" ContentType="{content_type}"/>'.encode()
            m = re.search(rb"</(?:\w+:)?Types>", x)
            x = x[: m.start()] + el + x[m.start():]
        self.set_part("[Content_Types].xml", x)

    # ------------------------------------------------------------------------- sheets

    def _sheet_entries(self) -> list[_SheetEntry]:
        wb = self._workbook_part()
        rels = {rid: (typ, target) for rid, typ, target in self._rels(wb)}
        out = []
        for el in safe_parse(self.read(wb), wb).iterfind("{*}sheets/{*}sheet"):
            rid = next((v for k, v in el.attrib.items() if k.endswith("}id") and "relationships" in k), "")
            typ, target = rels.get(rid, ("", None))
            out.append(_SheetEntry(el.get("name", ""), int(el.get("sheetId", "0")), rid, target, typ))
        return out

    @property
    def sheet_names(self) -> list[str]:
        """Sheet names in workbook order (worksheets, chart sheets and others)."""
        return [e.name for e in self._sheet_entries()]

    def _entry(self, name: str) -> _SheetEntry:
        for e in self._sheet_entries():
            if e.name.casefold() == name.casefold():
                return e
        raise BookError(f"{self.path.name} has no sheet named {name!r}")

    def sheet_part(self, name: str) -> str:
        """Return the worksheet part of a sheet (names compare case-insensitively, as in Excel).

        Args:
            name: the sheet's name.

        Returns:
            Its part name, e.g. ``"xl/worksheets/sheet1.xml"``.
        """
        e = self._entry(name)
        if not e.rel_type.endswith("/worksheet") or not e.part:
            raise BookError(f"sheet {name!r} is not a worksheet (a chart or dialog sheet?)")
        return e.part

    def set_sheet(
        self,
        name: str,
        xml: bytes,
        *,
        after: str | None = None,
        cleared: tuple[int, Sequence[int]] | None = None,
    ) -> str:
        """Replace the XML of a worksheet, or add a new worksheet.

        A new sheet goes after the sheet ``after`` (default: last); an existing sheet keeps its
        place and its other parts (drawings, tables, comments). When a replaced sheet had
        formula cells listed in ``xl/calcChain.xml`` that the new XML no longer has, the chain is
        removed: it is a cache Excel rebuilds silently, while a stale one makes it "repair" the
        file. Without ``cleared`` every listed formula of the sheet counts as gone.

        Args:
            name: the sheet name (up to 31 characters, none of ``[]:*?/\\``).
            xml: the complete worksheet XML.
            after: for a new sheet, the sheet to put it after.
            cleared: ``(header_row, columns)`` when only those columns changed, from the header
                row down (what :func:`splice_columns` overwrites).

        Returns:
            The worksheet's part name.
        """
        existing = [e for e in self._sheet_entries() if e.name.casefold() == name.casefold()]
        if existing:
            part = self.sheet_part(name)
            if self._calc_chain_hit(existing[0].sheet_id, cleared):
                self._drop_calc_chain()
            self.set_part(part, xml)
            return part
        return self._add_sheet(name, xml, after)

    def splice_sheet(
        self,
        name: str,
        *,
        header_row: int,
        columns: Sequence[OutColumn],
        rows: Any,
        values: Sequence[Any],
    ) -> str:
        """Write computed columns into a worksheet: :func:`splice_columns` plus :meth:`set_sheet`.

        Args:
            name: the sheet name.
            header_row, columns, rows, values: as for :func:`~xl_ar.book.sheetxml.splice_columns`.

        Returns:
            The worksheet's part name.
        """
        part = self.sheet_part(name)
        xml = splice_columns(self.read(part), header_row=header_row, columns=columns, rows=rows, values=values)
        return self.set_sheet(name, xml, cleared=(header_row, [c.index for c in columns]))

    def _add_sheet(self, name: str, xml: bytes, after: str | None) -> str:
        entries = self._sheet_entries()
        _check_sheet_name(name)
        wb = self._workbook_part()
        n = max([0] + [int(m.group(1)) for p in self._lower.values()
                       if (m := re.fullmatch(r"xl/worksheets/sheet(\d+)\.xml", p, re.I))]) + 1
        part = f"xl/worksheets/sheet{n}.xml"
        self.set_part(part, xml)
        self._set_override(part, CT_WORKSHEET)
        rid = self._add_rel(wb, REL_WORKSHEET, posixpath.relpath(part, posixpath.dirname(wb) or "."))
        x = self.read(wb)
        root = re.search(rb"<(?:(\w+):)?workbook\b[^>]*>", x)
        p = root.group(1) + b":" if root.group(1) else b""
        rm = re.search(rb'xmlns:(\w+)="' + re.escape(REL.encode()) + b'"', root.group(0))
        rid_attr = (rm.group(1) + b':id="' if rm else b'xmlns:r="' + REL.encode() + b'" r:id="') + rid.encode() + b'"'
        sid = max([0] + [e.sheet_id for e in entries]) + 1
        el = b"<" + p + b'sheet name="' + escape_attr(name).encode() + b'" sheetId="' + str(sid).encode() + b'" ' + rid_attr + b"/>"
        pos = len(entries)  # how many sheets come before the new one
        if after is not None:
            pos = next((i + 1 for i, e in enumerate(entries) if e.name.casefold() == after.casefold()), -1)
            if pos < 0:
                raise BookError(f"{self.path.name} has no sheet named {after!r}")
        if pos == len(entries):
            at = re.search(rb"</" + re.escape(p) + rb"sheets>", x).start()
        else:
            tags = list(re.finditer(rb"<" + re.escape(p) + rb"sheet\b[^>]*?(?:/>|>\s*</" + re.escape(p) + rb"sheet>)", x))
            at = tags[pos - 1].end()
        x = x[:at] + el + x[at:]
        if pos < len(entries):
            x = _shift_sheet_indexes(x, pos)
        self.set_part(wb, x)
        return part

    # ------------------------------------------------------------------------- calcChain

    def _calc_chain_part(self) -> tuple[str, str] | None:
        wb = self._workbook_part()
        for rid, typ, target in self._rels(wb):
            if typ.endswith("/calcChain") and target and self.has_part(target):
                return rid, target
        return None

    def _calc_chain_hit(self, sheet_id: int, cleared: tuple[int, Sequence[int]] | None) -> bool:
        """Does calcChain list a formula of this sheet that the replacement removes?"""
        found = self._calc_chain_part()
        if not found:
            return False
        header_row, columns = (cleared[0], set(cleared[1])) if cleared else (0, set())
        current = None
        for m in re.finditer(rb"<(?:\w+:)?c\b([^>]*)>", self.read(found[1])):
            i = re.search(rb'\si="(\d+)"', m.group(1))
            current = int(i.group(1)) if i else current  # an omitted i repeats the previous one
            if current != sheet_id:
                continue
            if cleared is None:
                return True
            r = re.search(rb'\sr="([^"]+)"', m.group(1))
            row, col = split_ref(r.group(1).decode()) if r else (0, 0)
            if row >= header_row and col in columns:
                return True
        return False

    def _drop_calc_chain(self) -> None:
        rid, part = self._calc_chain_part()
        self._delete_part(part)
        self._remove_rel(self._workbook_part(), rid)
        self._set_override(part, None)

    # ------------------------------------------------------------------------- styles

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
        """Return a ``cellXfs`` index for a cell format, adding it to ``styles.xml`` if needed.

        Args:
            num_fmt: number format code, e.g. ``"yyyy-mm-dd"`` or ``"#,##0.00"``.
            bold, italic: font flags.
            font_color, fill: RGB colours such as ``"C00000"`` (solid fill).
            halign: horizontal alignment.

        Returns:
            The style index for a cell's ``s`` attribute; an equal existing format is reused.
        """
        if self._styles is None:
            part = self._styles_part()
            self._styles = StyleSheet(self.read(part) if part else None)
            if part is None:  # a workbook without styles.xml gets one
                wb = self._workbook_part()
                part = posixpath.join(posixpath.dirname(wb), "styles.xml")
                self._add_rel(wb, REL_STYLES, posixpath.relpath(part, posixpath.dirname(wb) or "."))
                self._set_override(part, CT_STYLES)
            self._styles_name = part
        idx = self._styles.cell_style(num_fmt, bold=bold, italic=italic, font_color=font_color, fill=fill, halign=halign)
        if self._styles.changed:
            self.set_part(self._styles_name, self._styles.xml)
        return idx

    def _styles_part(self) -> str | None:
        for _, typ, target in self._rels(self._workbook_part()):
            if typ.endswith("/styles") and target and self.has_part(target):
                return target
        return None

    # ------------------------------------------------------------------------- tables

    def extend_table(
        self,
        sheet: str,
        header_row: int,
        first_col: int,
        last_col: int,
        headers: Mapping[int, str],
        last_row: int | None = None,
    ) -> list[str]:
        """Widen the Excel Table (and a sheet autofilter) holding a ledger over new columns.

        A table of ``sheet`` whose header is on ``header_row`` and which covers ``first_col`` is
        extended right to ``last_col`` (new ``tableColumn`` entries named after ``headers``,
        which must equal the header cells' text) and down to ``last_row`` (unless it has a
        totals row); columns of ours already in the table are renamed if their header changed.
        A sheet-level ``<autoFilter>`` on ``header_row`` is widened the same way.

        Args:
            sheet: the sheet name.
            header_row: 1-based header row.
            first_col: a column the table must cover (the ledger's first column).
            last_col: the last column the table must reach.
            headers: header text by 1-based column, for every column added or renamed.
            last_row: the last data row, if the table must reach it.

        Returns:
            The parts changed (table parts, and the sheet part for its autofilter).
        """
        if not 1 <= first_col <= last_col <= MAX_COL:
            raise ValueError("need 1 <= first_col <= last_col <= 16384")
        entry = self._entry(sheet)
        sheet_part = self.sheet_part(sheet)
        changed = []
        for _, typ, target in self._rels(sheet_part):
            if typ.endswith("/table") and target and self.has_part(target):
                x = _extend_table_xml(self.read(target), target, header_row, first_col, last_col, headers, last_row)
                if x is not None:
                    self.set_part(target, x)
                    changed.append(target)
        x = self.read(sheet_part)
        tail = max(x.rfind(b"sheetData>"), 0)
        m = re.compile(rb'<(?:\w+:)?autoFilter\b[^>]*?\sref="([^"]*)"').search(x, tail)
        box = _ref_box(m.group(1).decode()) if m else None
        if box and box[0] == header_row and box[1] <= first_col <= box[3] + 1:
            new = (box[0], box[1], max(box[2], last_row or 0), max(box[3], last_col))
            if new != box:
                self.set_part(sheet_part, x[: m.start(1)] + _ref(new).encode() + x[m.end(1):])
                self._update_filter_name(entry, new)
                changed.append(sheet_part)
        return changed

    def _update_filter_name(self, entry: _SheetEntry, box: tuple[int, int, int, int]) -> None:
        """Keep the hidden ``_xlnm._FilterDatabase`` name in step with the sheet's autofilter."""
        wb = self._workbook_part()
        idx = [e.name for e in self._sheet_entries()].index(entry.name)
        quoted = entry.name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", entry.name) else "'" + entry.name.replace("'", "''") + "'"
        r1, c1, r2, c2 = box
        ref = f"{quoted}!${col_letter(c1)}${r1}:${col_letter(c2)}${r2}"
        x = self.read(wb)
        pat = (rb'(<(?:\w+:)?definedName\b(?=[^>]*\sname="_xlnm\._FilterDatabase")(?=[^>]*\slocalSheetId="'
               + str(idx).encode() + rb'")[^>]*>)[^<]*(<)')
        new, n = re.subn(pat, lambda m: m.group(1) + _escape_text(ref) + b"<", x, count=1)
        if n:
            self.set_part(wb, new)

    # ------------------------------------------------------------------------- saving

    def save(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        backup_dir: str | os.PathLike[str] | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> Path:
        """Write the package atomically: a temp file beside the target, fsync, then rename.

        Unchanged members are copied raw; changed and new ones are deflated at level 1. The
        same changes give the same bytes. On any failure the target is left as it was. The
        package then represents the saved file, with no pending changes.

        Args:
            path: where to write (default: over the opened file).
            backup_dir: when given, the existing target is first copied there (see :func:`backup`).
            progress: called with each member's name before it is written (status bar); an
                exception it raises aborts the save.

        Returns:
            The path written.
        """
        target = Path(path) if path is not None else self.path
        st = self.path.stat()
        if (st.st_size, st.st_mtime_ns) != self._stamp:
            raise BookError(f"{self.path.name} changed on disk since it was read; run again")
        if target.exists():
            check_not_open(target)
            if backup_dir is not None:
                backup(target, backup_dir=backup_dir)
        fd, tmp = tempfile.mkstemp(prefix=".~xl-ar-", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as out, open(self.path, "rb") as src:
                self._write(out, src, progress)
                out.flush()
                os.fsync(out.fileno())
            shutil.copymode(target if target.exists() else self.path, tmp)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
            dfd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        self.path = target
        self._load()
        return target

    def _write(self, out, src, progress: Callable[[str], None] | None) -> None:
        central: list[bytes] = []
        offset = 0
        for name in [n for n in self._order if n not in self._deleted] + self._added:
            if progress is not None:
                progress(name)
            m = self._members.get(name)
            if name in self._changes:
                data = self._changes[name]
                comp = _z.compress(data, 1, -15) if _z is not zlib else _deflate_zlib(data)
                crc, usize = _z.crc32(data) & _CRC_MASK, len(data)
                if m is not None:
                    info, name_b = m.info, m.name_bytes
                    flags = info.flag_bits & 0x800
                    dtime, ddate = _dos_time(info.date_time)
                    made, extra_c, comment, iattr, xattr = _central_bits(info)
                else:
                    name_b = name.encode("utf-8")
                    flags = 0 if name_b.isascii() else 0x800
                    dtime, ddate = _DOS_1980
                    made, extra_c, comment, iattr, xattr = 20, b"", b"", 0, 0
                local = _local_header(name_b, flags, 8, dtime, ddate, crc, len(comp), usize, b"")
                out.write(local)
                out.write(comp)
                central.append(_central_header(name_b, made, flags, 8, dtime, ddate, crc, len(comp), usize,
                                               offset, extra_c, comment, iattr, xattr))
                offset += len(local) + len(comp)
                continue
            info = m.info
            dtime, ddate = _dos_time(info.date_time)
            made, extra_c, comment, iattr, xattr = _central_bits(info)
            if info.flag_bits & 0x8:  # sizes were in a data descriptor: write a clean local header
                flags = info.flag_bits & ~0x8
                head = _local_header(m.name_bytes, flags, info.compress_type, dtime, ddate, info.CRC,
                                     info.compress_size, info.file_size, b"")
                out.write(head)
                _copy(src, out, m.data_offset, info.compress_size, self.path.name)
                written = len(head) + info.compress_size
            else:  # the original local header and data, byte for byte
                flags = info.flag_bits
                written = m.data_offset - info.header_offset + info.compress_size
                _copy(src, out, info.header_offset, written, self.path.name)
            central.append(_central_header(m.name_bytes, made, flags, info.compress_type, dtime, ddate, info.CRC,
                                           info.compress_size, info.file_size, offset, extra_c, comment, iattr, xattr))
            offset += written
        cd = b"".join(central)
        out.write(cd)
        out.write(_end_records(len(central), len(cd), offset, self._comment))


# ----------------------------------------------------------------------------- zip records


def _deflate_zlib(data: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def _dos_time(dt: tuple[int, ...]) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def _central_bits(info: zipfile.ZipInfo) -> tuple[int, bytes, bytes, int, int]:
    """Version made by, central extra without ZIP64 (re-derived), comment, attributes."""
    extra, rest = info.extra, b""
    while len(extra) >= 4:
        hid, size = struct.unpack("<HH", extra[:4])
        if hid != 1:
            rest += extra[: 4 + size]
        extra = extra[4 + size:]
    return (info.create_system << 8) | info.create_version, rest, info.comment, info.internal_attr, info.external_attr


def _local_header(name: bytes, flags: int, method: int, dtime: int, ddate: int, crc: int,
                  csize: int, usize: int, extra: bytes) -> bytes:
    version = 20
    if csize >= _U32 or usize >= _U32:
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) + extra
        csize = usize = 0xFFFFFFFF  # "see the ZIP64 extra field"
        version = 45
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", version, flags, method, dtime, ddate, crc, csize, usize,
                       len(name), len(extra)) + name + extra


def _central_header(name: bytes, made: int, flags: int, method: int, dtime: int, ddate: int, crc: int,
                    csize: int, usize: int, offset: int, extra: bytes, comment: bytes, iattr: int, xattr: int) -> bytes:
    z64 = [v for v in (usize, csize, offset) if v >= _U32]
    version = 20
    if z64:
        extra = struct.pack("<HH", 1, 8 * len(z64)) + b"".join(struct.pack("<Q", v) for v in z64) + extra
        version = 45
        usize, csize, offset = (0xFFFFFFFF if v >= _U32 else v for v in (usize, csize, offset))
    made = (made & 0xFF00) | max(made & 0xFF, version)
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", made, version, flags, method, dtime, ddate, crc, csize, usize,
                       len(name), len(extra), len(comment), 0, iattr, xattr, offset) + name + extra + comment


def _end_records(count: int, cd_size: int, cd_offset: int, comment: bytes) -> bytes:
    out = b""
    if count >= _U16 or cd_size >= _U32 or cd_offset >= _U32:
        z64_at = cd_offset + cd_size
        out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64_at, 1)
        count = 0xFFFF if count >= _U16 else count
        cd_size, cd_offset = (0xFFFFFFFF if v >= _U32 else v for v in (cd_size, cd_offset))
    return out + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, len(comment)) + comment


def _copy(src, out, start: int, length: int, name: str) -> None:
    src.seek(start)
    while length:
        chunk = src.read(min(length, 1 << 20))
        if not chunk:
            raise BookError(f"{name} was truncated while being copied; nothing was written")
        out.write(chunk)
        length -= len(chunk)


# ----------------------------------------------------------------------------- helpers


def _escape_text(s: str) -> bytes:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").encode()


def _ref_box(ref: str) -> tuple[int, int, int, int] | None:
    try:
        a, _, b = ref.partition(":")
        (r1, c1), (r2, c2) = split_ref(a), split_ref(b or a)
    except ValueError:
        return None
    return min(r1, r2), min(c1, c2), max(r1, r2), max(c1, c2)


def _ref(box: tuple[int, int, int, int]) -> str:
    r1, c1, r2, c2 = box
    return f"{col_letter(c1)}{r1}:{col_letter(c2)}{r2}"


def _check_sheet_name(name: str) -> None:
    if not isinstance(name, str) or not 1 <= len(name) <= 31:
        raise BookError(f"sheet name {name!r} must have 1 to 31 characters")
    bad = set(name) & set("[]:*?/\\")
    if bad or name.startswith("'") or name.endswith("'") or name.casefold() == "history":
        raise BookError(f"sheet name {name!r} is not allowed in Excel")


def _shift_sheet_indexes(x: bytes, at: int) -> bytes:
    """After inserting a sheet at position ``at``, renumber sheet positions at or after it."""
    def bump(m: re.Match[bytes]) -> bytes:
        n = int(m.group(2))
        return m.group(1) + str(n + 1 if n >= at else n).encode() + b'"'
    x = re.sub(rb'(<(?:\w+:)?definedName\b[^>]*?\slocalSheetId=")(\d+)"', bump, x)
    return re.sub(rb'(<(?:\w+:)?workbookView\b[^>]*?\s(?:activeTab|firstSheet)=")(\d+)"', bump, x)


def _table_col_name(s: str) -> str:
    """Excel stores line breaks in table column names as _x000a_ escapes."""
    return s.replace("\r", "_x000d_").replace("\n", "_x000a_").replace("\t", "_x0009_")


def _extend_table_xml(x: bytes, part: str, header_row: int, first_col: int, last_col: int,
                      headers: Mapping[int, str], last_row: int | None) -> bytes | None:
    """The table part widened as :meth:`WorkbookPackage.extend_table` describes, or None."""
    root_el = safe_parse(x, part)
    box = _ref_box(root_el.get("ref", ""))
    if box is None or root_el.get("headerRowCount", "1") == "0":
        return None
    r1, c1, r2, c2 = box
    if r1 != header_row or not c1 <= first_col <= c2:
        return None
    totals = int(root_el.get("totalsRowCount", "0") or 0)
    new_box = (r1, c1, max(r2, last_row) if last_row and not totals else r2, max(c2, last_col))
    cols_el = root_el.find("{*}tableColumns")
    names = [c.get("name", "") for c in cols_el.iterfind("{*}tableColumn")]
    ids = [int(c.get("id", "0")) for c in cols_el.iterfind("{*}tableColumn")]
    if len(names) != c2 - c1 + 1:
        raise BookError(f"{part}: the table has {len(names)} columns but its range spans {c2 - c1 + 1}")
    want = list(names)
    for col in range(c1, new_box[3] + 1):
        if col in headers:
            name = _table_col_name(headers[col])
            if col > c2:
                want.append(name)
            else:
                want[col - c1] = name
        elif col > c2:
            raise BookError(f"{part}: no header given for column {col_letter(col)}, which the table must cover")
    if len({n.casefold() for n in want}) != len(want) or "" in want:
        raise BookError(f"{part}: table column names must be unique and not empty: {want}")
    if new_box == box and want == names:
        return None
    p = re.escape(root_el.prefix.encode() + b":") if root_el.prefix else b""
    tag_re = re.compile(rb"<" + p + rb"tableColumn\b([^>]*?)(/?)>")
    cols_m = re.compile(rb"<" + p + rb"tableColumns\b[^>]*>").search(x)
    close = re.compile(rb"</" + p + rb"tableColumns>").search(x, cols_m.end())
    inner = x[cols_m.end(): close.start()]
    pieces, last = [], 0
    for k, m in enumerate(tag_re.finditer(inner)):  # rename our columns whose header changed
        if want[k] != names[k]:
            attrs = re.sub(rb'(\sname=")[^"]*(")', lambda mm: mm.group(1) + escape_attr(want[k]).encode() + mm.group(2), m.group(1))
            pieces += [inner[last: m.start()], inner[m.start(): m.start(1)], attrs]
            last = m.end(1)
    pieces.append(inner[last:])
    pre = p.replace(b"\\", b"")
    next_id = max([0, *ids]) + 1
    for k, name in enumerate(want[len(names):]):
        pieces.append(b"<" + pre + b'tableColumn id="' + str(next_id + k).encode() + b'" name="' + escape_attr(name).encode() + b'"/>')
    start_tag = re.sub(rb'(\scount=")\d+(")', lambda mm: mm.group(1) + str(len(want)).encode() + mm.group(2), cols_m.group(0))
    x = x[: cols_m.start()] + start_tag + b"".join(pieces) + x[close.start():]
    ref = _ref(new_box).encode()
    root = re.compile(rb"<" + p + rb"table\b[^>]*>").search(x)
    x = x[: root.start()] + re.sub(rb'(\sref=")[^"]*(")', lambda mm: mm.group(1) + ref + mm.group(2), root.group(0), count=1) + x[root.end():]
    af_box = (new_box[0], new_box[1], new_box[2] - totals, new_box[3])
    x = re.sub(rb'(<' + p + rb'autoFilter\b[^>]*?\sref=")[^"]*(")', lambda mm: mm.group(1) + _ref(af_box).encode() + mm.group(2), x, count=1)
    return x


# ----------------------------------------------------------------------------- files


def check_not_open(path: str | os.PathLike[str]) -> None:
    """Refuse to touch a workbook that Excel (or LibreOffice) has open.

    Excel keeps an owner file ``~$NAME`` beside an open book (for long names it drops the
    first two characters of NAME); LibreOffice keeps ``.~lock.NAME#``.

    Args:
        path: the workbook.
    """
    p = Path(path)
    name = p.name
    candidates = [("~$" + name, "Excel"), (".~lock." + name + "#", "LibreOffice")]
    if len(name) > 2:
        candidates.insert(1, ("~$" + name[2:], "Excel"))
    for lock, app in candidates:
        if (p.parent / lock).exists():
            raise BookLockedError(
                f"{name} is open in {app} (lock file {lock}); close it and try again, "
                f"or delete {lock} if {app} is not running"
            )


def backup(
    path: str | os.PathLike[str],
    *,
    backup_dir: str | os.PathLike[str] | None = None,
    keep: int = KEEP_BACKUPS,
    now: datetime | None = None,
) -> Path:
    """Copy a workbook to ``NAME.YYYYmmdd-HHMMSS.ext`` in a backups folder; keep the newest ones.

    Args:
        path: the workbook.
        backup_dir: the folder (default ``.xl-ar-backups`` beside the workbook).
        keep: how many backups of this workbook to keep; older ones are deleted.
        now: the timestamp to use (default: the local time now).

    Returns:
        The backup's path.
    """
    p = Path(path)
    folder = Path(backup_dir) if backup_dir is not None else p.parent / BACKUP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    dest, k = folder / f"{p.stem}.{stamp}{p.suffix}", 1
    while dest.exists():  # two backups in one second
        dest, k = folder / f"{p.stem}.{stamp}-{k}{p.suffix}", k + 1
    shutil.copy2(p, dest)
    pat = re.compile(re.escape(p.stem) + r"\.(\d{8}-\d{6})(?:-(\d+))?" + re.escape(p.suffix) + "$")
    ours = sorted(
        ((m.group(1), int(m.group(2) or 0)), f) for f in folder.iterdir() if (m := pat.match(f.name))
    )
    for _, old in ours[: max(len(ours) - keep, 0)]:
        old.unlink()
    return dest

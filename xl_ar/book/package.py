"""A user's workbook as a zip package: read parts, replace the parts the tool owns, save safely.

openpyxl drops charts, pictures, pivots, slicers and more on load + save, so a user's ledger is
never round-tripped through it. Instead the package is rewritten member by member
(:mod:`xl_ar.book.zipio`: unchanged members are copied raw, changed ones deflated anew, under
limits against zip bombs). Small XML parts are edited as text, so what the tool does not
understand survives byte for byte; XML with a DOCTYPE or entity declaration is refused. Tables
and autofilters are widened by :mod:`xl_ar.book.tables`; this module holds the package itself:
parts, relationships, sheets, calcChain, styles and the atomic save (after the lock-file check
and backup of :mod:`xl_ar.book.zipio`, re-exported here).

Adding a sheet leaves ``docProps/app.xml`` (TitlesOfParts, HeadingPairs) alone: it is
informational, Excel rewrites it on its next save and openpyxl-written books carry none; what
makes Excel repair a file is an inconsistent one (a HeadingPairs count that does not match the
titles), which a partial edit risks and leaving it alone cannot cause.
"""

from __future__ import annotations

import os
import posixpath
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence
from urllib.parse import unquote

from xl_ar.book.sheetxml import MAX_COL, BookError, escape_attr
from xl_ar.book.deflate import DeflatedPart
from xl_ar.book.styles import StyleSheet, safe_parse
from xl_ar.book.workbookxml import calc_chain_lists, check_sheet_name, shift_sheet_indexes
from xl_ar.book.tables import extend_table_xml, update_filter_name, widen_autofilter
from xl_ar.book.atomic import replace_atomically
from xl_ar.book.zipio import (BookLockedError, ZipMember, backup, check_not_open, check_writable, read_directory,
                              read_member, run_lock, write_zip)

__all__ = ["BookError", "BookLockedError", "WorkbookPackage", "backup", "check_not_open"]

CT_WORKSHEET = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
CT_STYLES = "application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
REL_WORKSHEET = REL + "/worksheet"
REL_STYLES = REL + "/styles"
_STRICT = b"http://purl.oclc.org/ooxml/spreadsheetml/main"


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
        self._members: dict[str, ZipMember] = {}
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
        name = self.path.name
        zd = read_directory(self.path)
        self._members, self._lower, self._order, self._comment = zd.members, zd.lower, zd.order, zd.comment
        self._changes, self._added, self._deleted, self._styles = {}, [], set(), None
        self._stamp = zd.stamp
        if not self.has_part("[Content_Types].xml"):
            raise BookError(f"{name} is not an Excel workbook: it has no [Content_Types].xml")
        safe_parse(self.read("[Content_Types].xml"), "[Content_Types].xml")
        wb = self._workbook_part()
        if _STRICT in self.read(wb)[:4096]:
            raise BookError(f"{name} is a Strict Open XML workbook: save it as an ordinary Excel workbook")
        safe_parse(self.read(wb), wb)

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
            data = self._changes[part]
            return data.inflate() if isinstance(data, DeflatedPart) else data
        return read_member(self.path, self._members[part], part)

    def set_part(self, part: str, data: bytes | DeflatedPart) -> None:
        """Replace a part, or add it (the caller adds its content type when ``.xml`` is not enough).

        Args:
            part: the part name.
            data: its new content (bytes, or already deflated).
        """
        if not isinstance(data, (bytes, bytearray, DeflatedPart)):
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

    def stored(self, part: str) -> ZipMember | None:
        """The part as the file holds it, to be read piece by piece; None when it is new, changed
        or removed here (its content is then this package's, not the file's)."""
        part = self._canon(part)
        if part in self._changes or part in self._deleted:
            return None
        return self._members.get(part)

    @property
    def changed_parts(self) -> list[str]:
        """Parts replaced, added or removed since the package was opened (sorted)."""
        return sorted(set(self._changes) | self._deleted)

    def differs(self, part: str) -> bool:
        """Whether a changed part really differs from the file's (a part set again may be equal).

        Size and CRC from the zip directory settle most cases without inflating the original;
        only an equal size and CRC are confirmed byte by byte.
        """
        part = self._canon(part)
        if part in self._deleted or part not in self._members:
            return part in self._deleted or part in self._changes
        if part not in self._changes:
            return False
        new, info = self._changes[part], self._members[part].info
        if isinstance(new, DeflatedPart):
            if new.same is not None or new.size != info.file_size or new.crc != info.CRC:
                return not new.same
            new = new.inflate()
        if len(new) != info.file_size or (zlib.crc32(new) & 0xFFFFFFFF) != info.CRC:
            return True
        return read_member(self.path, self._members[part], part) != new

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

    @property
    def date1904(self) -> bool:
        """True for a workbook in the 1904 date system (old Excel for Mac): serials differ by 1462 days."""
        m = re.search(rb"<(?:\w+:)?workbookPr\b[^>]*\bdate1904\s*=\s*[\"'](1|true)[\"']", self.read(self._workbook_part()))
        return m is not None

    def refuse_1904(self) -> "WorkbookPackage":
        """Refuse a 1904-date-system workbook before writing dates into it; returns self.

        Every date xl-ar writes is a 1900-system serial: in such a workbook it would show four
        years off. Refusing is better than writing wrong dates.
        """
        if self.date1904:
            raise BookError(f"{self.path.name} uses the 1904 date system (old Excel for Mac); untick "
                            "File > Options > Advanced > 'Use 1904 date system', save, and run again")
        return self

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

    def sheet_kinds(self) -> list[tuple[str, str | None, str]]:
        """``(name, part or None, kind)`` of every sheet; kind is the relationship's last word
        (``worksheet``, ``chartsheet``, ``dialogsheet``...)."""
        return [(e.name, e.part, e.rel_type.rsplit("/", 1)[-1]) for e in self._sheet_entries()]

    def sheet_table_parts(self, sheet_part: str) -> list[str]:
        """The Excel Table parts of a worksheet part."""
        return [t for _, typ, t in self._rels(sheet_part) if typ.endswith("/table") and t and self.has_part(t)]

    def shared_strings_part(self) -> str | None:
        """The shared-strings part, if the workbook has one."""
        for _, typ, target in self._rels(self._workbook_part()):
            if typ.endswith("/sharedStrings") and target and self.has_part(target):
                return target
        return None

    def reader_parts(self) -> list[str]:
        """The parts any reader parses before a sheet: content types, relationships, workbook,
        shared strings and styles."""
        wb = self._workbook_part()
        out = ["[Content_Types].xml", "_rels/.rels", wb, self._rels_part(wb)]
        out += [p for p in (self.shared_strings_part(), self._styles_part()) if p]
        return [p for p in out if self.has_part(p)]

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
        xml: bytes | DeflatedPart,
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
                row down (what :func:`~xl_ar.book.splice.splice_columns` overwrites).

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

    def _add_sheet(self, name: str, xml: bytes, after: str | None) -> str:
        entries = self._sheet_entries()
        check_sheet_name(name)
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
            x = shift_sheet_indexes(x, pos)
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
        return calc_chain_lists(self.read(found[1]), sheet_id, cleared)

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
        user_headers: Mapping[int, str] | None = None,
        autofilter: bool = True,
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
            user_headers: header text by 1-based column of the user's own columns: one typed
                just right of the table, between it and ours, is taken into the table under
                its header, as Excel does when a column is typed next to a table.
            autofilter: widen a sheet autofilter too (reading the sheet whole); the refresh
                widens it in its splice instead (``splice_sheet(..., tail=)``).

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
                x = extend_table_xml(self.read(target), target, header_row, first_col, last_col, headers, last_row,
                                     user_headers, sheet)
                if x is not None:
                    self.set_part(target, x)
                    changed.append(target)
        widened = widen_autofilter(self.read(sheet_part), header_row, first_col, last_col, last_row) \
            if autofilter else None
        if widened is not None:
            self.set_part(sheet_part, widened[0])
            self.filter_widened(entry.name, widened[1])
            changed.append(sheet_part)
        return changed

    def filter_widened(self, sheet: str, box: tuple[int, int, int, int]) -> None:
        """Keep the hidden ``_xlnm._FilterDatabase`` name of ``sheet`` in step with its sheet
        autofilter, widened to ``box`` (row1, col1, row2, col2)."""
        entry, wb = self._entry(sheet), self._workbook_part()
        idx = [e.name for e in self._sheet_entries()].index(entry.name)
        x = update_filter_name(self.read(wb), entry.name, idx, box)
        if x is not None:
            self.set_part(wb, x)

    # ------------------------------------------------------------------------- saving

    def save_changes(self) -> Path | None:
        """Save over the opened file when some part really changed: refused while the book is
        open in Excel, backed up first, written atomically.

        Returns:
            The backup's path, or None when nothing differs (then nothing is written, so the
            same run twice leaves the file as it was).
        """
        if not any(self.differs(p) for p in self.changed_parts):
            return None
        check_writable(self.path)
        check_not_open(self.path)
        saved = backup(self.path)
        self.save()
        return saved

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
        link = Path(path) if path is not None else self.path
        # A workbook reached through a symbolic link: the real file is replaced, the link stays.
        target = Path(os.path.realpath(link))
        with run_lock(target):
            st = self.path.stat()
            if (st.st_size, st.st_mtime_ns) != self._stamp:
                raise BookError(f"{self.path.name} changed on disk since it was read; run again")
            if target.exists():
                check_writable(target)
                check_not_open(target)
                if backup_dir is not None:
                    backup(target, backup_dir=backup_dir)
            self._write(target, progress)
        self.path = link
        self._load()
        return link

    def _write(self, target: Path, progress: Callable[[str], None] | None) -> None:
        """The new file beside ``target``, synced, renamed over it (see :func:`replace_atomically`)."""
        def body(out) -> None:
            with open(self.path, "rb") as src:
                names = [n for n in self._order if n not in self._deleted] + self._added
                write_zip(out, src, self.path.name, names, self._members, self._changes, self._comment, progress)

        replace_atomically(target, body, mode_from=target if target.exists() else self.path)

"""Replies to statements: read the returned .xlsx files, record disputes and log the reply.

A customer returns the statement with "Confirmed" answered, or with lines marked disputed and a
reason. :func:`read_reply` reads such a file (untrusted: size-limited, zip and XML bombs
refused, read-only) and identifies it by its hidden ``_xlar`` marker (statement id, customer,
every line's key, and a checksum over them; its texts encoded by ``statements.marker_encode``,
so they read back as written whoever re-saved the file). The import run that checks replies
against the ledger and writes them into the workbook is ``xl_ar.app.confirmations``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xl_ar.book.package import BookError, WorkbookPackage
from xl_ar.book.sheetxml import decode_xstring, split_ref
from xl_ar.core import convert
from xl_ar.core.issues import Issue, has_errors
from xl_ar.documents.statements import (
    DISPUTE_COL, KEY_COL, MARKER_FORMAT, MARKER_SHEET, MARKER_VERSION, NAMES, REASON_COL, marker_checksum,
    marker_decode,
)

MAX_REPLY_BYTES = 20 << 20  # a returned statement is a few dozen KB; a scan pasted in may add some MB
MAX_REPLY_XML = 100 << 20  # uncompressed, all parts together
MAX_REPLY_ROWS = 20_000
MAX_REPLY_COLS = 40
CHANNEL = "statement"
OUTCOMES = {"en": {"confirmed": "confirmed", "disputed": "disputed"}, "zh": {"confirmed": "已确认", "disputed": "有异议"}}
YES = {"en": "yes", "zh": "是"}
_MORE_YES = {"有异议", "异议", "不符", "不对", "错误", "wrong", "dispute", "×", "✗", "✘"}
#: The marker versions read: "1" (statements made before its texts were encoded) and the current one.
MARKER_VERSIONS = ("1", MARKER_VERSION)


class ReplyError(Exception):
    """A returned file that cannot be imported; the message is one line naming the file."""


@dataclass(frozen=True)
class DisputedLine:
    """A line the customer disputes: its key (``INV|I2``), kind, document, currency, reason."""

    key: str
    kind: str
    doc_no: str
    currency: str
    reason: str


@dataclass(frozen=True)
class ReplyFile:
    """What a returned statement says, as read from the file.

    Attributes:
        confirmed: True (Yes), False (No) or None (left blank).
        closing: currency -> closing balance as issued (text, e.g. ``"8000.00"``).
        warnings: what was odd but usable (e.g. a reason without the Disputed mark).
    """

    path: str
    statement_id: str
    customer_id: str
    customer_name: str
    period_from: str
    period_to: str
    confirmed: bool | None
    disputed: tuple[DisputedLine, ...]
    remarks: str
    signer: str
    sign_date: str
    closing: dict[str, str]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Reply:
    """One imported reply: outcome "confirmed" or "disputed", and where it was written."""

    file: str
    statement_id: str
    customer_id: str
    outcome: str
    disputed: tuple[str, ...]
    activity_row: int | None


@dataclass
class ImportSummary:
    """What ``import_confirmations`` found and did."""

    book: str
    replies: list[Reply] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    written: bool = False
    backup: Path | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.issues)

    def as_json(self) -> dict[str, Any]:
        return {
            "book": self.book, "written": self.written, "backup": str(self.backup) if self.backup else None,
            "replies": [{"file": r.file, "statement_id": r.statement_id, "customer_id": r.customer_id,
                         "outcome": r.outcome, "disputed": list(r.disputed), "activity_row": r.activity_row}
                        for r in self.replies],
            "issues": [i.as_dict() for i in self.issues],
        }


# ----------------------------------------------------------------------------- reading a reply


def _text(v: Any) -> str:
    """A customer's answer as text. Excel stores a carriage return it cannot keep in XML (a
    remark pasted from another program) as ``_x000D_``, which openpyxl hands over as it is:
    the escapes are decoded here. (A literal ``_x000D_`` typed by the customer comes back as the
    character too: Excel protects it as ``_x005F_x000D_``, and openpyxl drops the protection.)"""
    return convert.parse_text(v) if not isinstance(v, str) else decode_xstring(v).strip()


def _yes(v: Any) -> bool | None:
    """True/False for a yes/no answer, None for blank; unknown non-blank text counts as yes."""
    if convert.is_blank(v):
        return None
    try:
        return convert.parse_bool(v)
    except ValueError:
        return True if str(v).strip().lower() in _MORE_YES else None


def _marker_text(cell: str) -> str:
    """The text a cell of a current marker holds (ValueError: not a cell ``marker_encode`` writes)."""
    text = marker_decode(cell)
    if text is None:
        raise ValueError(f"not an encoded marker text: {cell!r}")
    return text


def _marker_key(cell: str) -> str:
    """The line key a key cell of a current statement holds (the cell's text if it is not encoded)."""
    key = marker_decode(cell)
    return cell if key is None else key


def _same(text: str) -> str:
    return text


def _open_untrusted(path: Path):
    """Open a returned workbook read-only after the checks an untrusted file needs."""
    from openpyxl import load_workbook

    name = path.name
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ReplyError(f"{name}: cannot be read ({exc.strerror})") from None
    if size > MAX_REPLY_BYTES:
        raise ReplyError(f"{name} is {size >> 20} MB, larger than a returned statement can be; not imported")
    try:
        pkg = WorkbookPackage.open(path)  # refuses zip bombs, encrypted and non-workbook files
    except BookError as exc:
        raise ReplyError(f"{name}: {exc}") from None
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > MAX_REPLY_XML:
            raise ReplyError(f"{name} expands to more than {MAX_REPLY_XML >> 20} MB; not imported")
        for i in infos:
            if i.filename.lower().endswith((".xml", ".rels")):
                head = pkg.read(i.filename)[:4096]
                if b"<!DOCTYPE" in head or b"<!ENTITY" in head:
                    raise ReplyError(f"{name}: {i.filename} declares a DOCTYPE, which Excel never writes; refused")
    try:
        return load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged file
        raise ReplyError(f"{name} cannot be read as a workbook ({type(exc).__name__}: {exc})") from None


def _marker_table(rows: list[list[str]]) -> tuple[list[list[str]], list[list[str]], str | None]:
    """The marker's key/value pairs, line table and checksum, from its rows' texts."""
    pairs: list[list[str]] = []
    lines: list[list[str]] = []
    checksum, in_lines = None, False
    for cells in rows:
        if not in_lines:
            if cells[0] == "checksum":
                checksum = cells[1]
            elif cells[0] == "key":
                in_lines = True
            elif cells[0]:
                pairs.append(cells[:2])
        elif cells[0]:
            lines.append(cells[:6])
    return pairs, lines, checksum


def _marker(wb, name: str) -> tuple[dict[str, str], list[list[str]], Callable[[str], str]]:
    """The marker's pairs and lines, checked against its checksum, and what a key cell of the
    statement sheet holds (a function of the cell's text as read).

    A current marker holds every text encoded (``marker_encode``): a cell that is not one it
    writes means the marker was altered. A version "1" marker held its texts as they are; they
    are taken as openpyxl reads them, else with their ``_xHHHH_`` escapes decoded, whichever the
    checksum matches, so a control character in a name or number of a statement made before
    reads back too. (A literal ``_xHHHH_`` there may not: openpyxl drops every ``x005F_`` of a
    shared string, the escape that protected it, before the text is seen here.)
    """
    if MARKER_SHEET not in wb.sheetnames:
        raise ReplyError(f"{name} is not a statement made by xl-ar (it has no {MARKER_SHEET} sheet); not imported")
    raw = [(["" if v is None else str(v) for v in row] + [""] * 6)[:6]
           for row in itertools.islice(wb[MARKER_SHEET].iter_rows(max_col=6, values_only=True), MAX_REPLY_ROWS)]
    version = next((cells[1] for cells in raw if cells[0] == "version"), "")  # the same text encoded or not
    readings: list[tuple[Callable[[str], str], Callable[[str], str]]] = [(_same, _same)]  # (marker cell, key cell)
    if version == MARKER_VERSION:
        readings = [(_marker_text, _marker_key)]
    elif version == "1":
        readings.append((decode_xstring, decode_xstring))
    for text_of, key_of in readings:
        try:
            rows = [[text_of(c) for c in cells] for cells in raw]
        except ValueError:  # not a cell marker_encode writes
            continue
        pairs, lines, checksum = _marker_table(rows)
        if checksum is not None and checksum == marker_checksum(pairs, lines):
            break
    else:
        raise ReplyError(f"{name}: the statement's hidden marker was altered (its checksum does not match); not imported")
    info = dict(pairs)
    if info.get("format") != MARKER_FORMAT or info.get("version") not in MARKER_VERSIONS:
        raise ReplyError(f"{name}: a statement of an unknown format ({info.get('format')} {info.get('version')}); not imported")
    return info, lines, key_of


def _named_cell(wb, info: dict[str, str], key: str, sheet: str) -> tuple[int, int] | None:
    """(row, col) of a confirmation cell: its defined name (moves with the rows), else the marker's."""
    dn = wb.defined_names.get(NAMES[key]) if hasattr(wb.defined_names, "get") else None
    if dn is not None:
        for title, ref in dn.destinations:
            if title == sheet:
                try:
                    return split_ref(ref.split(":")[0])
                except ValueError:
                    break
    ref = info.get(f"cell:{key}")
    try:
        return split_ref(ref) if ref else None
    except ValueError:
        return None


def read_reply(path: str | Path) -> ReplyFile:
    """Read what a returned statement says.

    Args:
        path: the returned .xlsx.

    Returns:
        The :class:`ReplyFile`.

    Raises:
        ReplyError: the file is not a statement from xl-ar, was altered, or is unsafe to read.
    """
    path = Path(path)
    name = path.name
    wb = _open_untrusted(path)
    try:
        info, lines, key_of = _marker(wb, name)
        sheet = info.get("sheet", "")
        if sheet not in wb.sheetnames:
            raise ReplyError(f'{name}: the statement sheet "{sheet}" is missing; not imported')
        grid = [list(r) for r in itertools.islice(
            wb[sheet].iter_rows(max_col=MAX_REPLY_COLS, values_only=True), MAX_REPLY_ROWS)]
        cells = {k: _named_cell(wb, info, k, sheet) for k in NAMES}
    finally:
        wb.close()

    def at(rc: tuple[int, int] | None) -> Any:
        if rc is None or rc[0] > len(grid) or rc[1] > len(grid[rc[0] - 1]):
            return None
        return grid[rc[0] - 1][rc[1] - 1]

    known = {x[0]: x for x in lines}
    # The key column is found by its content, so a column the customer inserted does not matter.
    hits: dict[int, int] = {}
    for row in grid:
        for j, v in enumerate(row):
            if isinstance(v, str) and key_of(v) in known:
                hits[j] = hits.get(j, 0) + 1
    key_col = max(hits, key=hits.get) if hits else KEY_COL - 1
    d_col, r_col = key_col - (KEY_COL - DISPUTE_COL), key_col - (KEY_COL - REASON_COL)
    warnings: list[str] = []
    disputed: list[DisputedLine] = []
    seen: set[str] = set()
    unknown_key = re.compile(r"^(INV|CRN|RCT)\|")
    for i, row in enumerate(grid, start=1):
        cell = row[key_col] if key_col < len(row) else None
        if not isinstance(cell, str) or not cell:
            continue
        key = key_of(cell)
        if key not in known:
            if unknown_key.match(key):
                raise ReplyError(f"{name}: row {i} names {key.split('|', 1)[1]}, which is not on the statement as issued; "
                                 "the file was altered, not imported")
            continue
        seen.add(key)
        mark = _yes(row[d_col]) if 0 <= d_col < len(row) else None
        reason = _text(row[r_col]) if 0 <= r_col < len(row) and row[r_col] is not None else ""
        if mark is None and reason:
            warnings.append(f"row {i}: a reason without the Disputed mark; taken as disputed")
            mark = True
        if mark:
            _, ccy, kind, doc, _, _ = known[key]
            disputed.append(DisputedLine(key, kind, doc, ccy, reason))
    if len(seen) < len(known):
        warnings.append(f"{len(known) - len(seen)} line(s) of the statement are missing from the returned file")
    sign_date = at(cells["sign_date"])
    return ReplyFile(
        str(path), info.get("statement_id", ""), info.get("customer_id", ""), info.get("customer_name", ""),
        info.get("period_from", ""), info.get("period_to", ""), _yes(at(cells["confirmed"])), tuple(disputed),
        _text(at(cells["remarks"]) or ""), _text(at(cells["signer"]) or ""),
        sign_date.date().isoformat() if isinstance(sign_date, dt.datetime) else _text(sign_date or ""),
        {k.split(":", 1)[1]: v for k, v in info.items() if k.startswith("closing:")}, tuple(warnings))


# ----------------------------------------------------------------------------- importing

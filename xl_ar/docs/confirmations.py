"""Replies to statements: read the returned .xlsx files, record disputes and log the reply.

A customer returns the statement with "Confirmed" answered, or with lines marked disputed and a
reason. ``import_confirmations(book, files)`` reads each file (untrusted: size-limited, zip
and XML bombs refused, read-only), identifies it by its hidden ``_xlar`` marker (statement id,
customer, every line's key, and a checksum over them), checks it against the ledger, then
writes into the user's workbook without an openpyxl round trip: ``Disputed``/``DisputeReason``
on the disputed invoices and one Activities row per reply. The workbook is backed up first and
saved atomically; every zip member other than the two sheets (and the tables and styles they
need) stays byte-identical.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable

from xl_ar.book.append import append_rows
from xl_ar.book.cells import set_sheet_cells
from xl_ar.book.package import BookError, WorkbookPackage, check_not_open
from xl_ar.book.reader import read_book
from xl_ar.book.sheetxml import col_index, split_ref
from xl_ar.core import convert
from xl_ar.core.issues import Issue, has_errors
from xl_ar.core.money import CURRENCY_EXPONENTS
from xl_ar.jobs import load
from xl_ar.docs.statements import (
    DISPUTE_COL, KEY_COL, MARKER_FORMAT, MARKER_SHEET, MARKER_VERSION, NAMES, REASON_COL, marker_checksum,
)

MAX_REPLY_BYTES = 20 << 20  # a returned statement is a few dozen KB; a scan pasted in may add some MB
MAX_REPLY_XML = 100 << 20  # uncompressed, all parts together
MAX_REPLY_ROWS = 20_000
MAX_REPLY_COLS = 40
CHANNEL = "statement"
OUTCOMES = {"en": {"confirmed": "confirmed", "disputed": "disputed"}, "zh": {"confirmed": "已确认", "disputed": "有异议"}}
YES = {"en": "yes", "zh": "是"}
_MORE_YES = {"有异议", "异议", "不符", "不对", "错误", "wrong", "dispute", "×", "✗", "✘"}


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
    return convert.parse_text(v) if not isinstance(v, str) else v.strip()


def _yes(v: Any) -> bool | None:
    """True/False for a yes/no answer, None for blank; unknown non-blank text counts as yes."""
    if convert.is_blank(v):
        return None
    try:
        return convert.parse_bool(v)
    except ValueError:
        return True if str(v).strip().lower() in _MORE_YES else None


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


def _marker(wb, name: str) -> tuple[dict[str, str], list[list[str]]]:
    if MARKER_SHEET not in wb.sheetnames:
        raise ReplyError(f"{name} is not a statement made by xl-ar (it has no {MARKER_SHEET} sheet); not imported")
    pairs: list[list[str]] = []
    lines: list[list[str]] = []
    checksum, in_lines = None, False
    for row in itertools.islice(wb[MARKER_SHEET].iter_rows(max_col=6, values_only=True), MAX_REPLY_ROWS):
        cells = ["" if v is None else str(v) for v in row] + [""] * 6
        if not in_lines:
            if cells[0] == "checksum":
                checksum = cells[1]
            elif cells[0] == "key":
                in_lines = True
            elif cells[0]:
                pairs.append(cells[:2])
        elif cells[0]:
            lines.append(cells[:6])
    if checksum is None or checksum != marker_checksum(pairs, lines):
        raise ReplyError(f"{name}: the statement's hidden marker was altered (its checksum does not match); not imported")
    info = dict((k, v) for k, v in pairs)
    if info.get("format") != MARKER_FORMAT or info.get("version") != MARKER_VERSION:
        raise ReplyError(f"{name}: a statement of an unknown format ({info.get('format')} {info.get('version')}); not imported")
    return info, lines


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
        info, lines = _marker(wb, name)
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
            if isinstance(v, str) and v in known:
                hits[j] = hits.get(j, 0) + 1
    key_col = max(hits, key=hits.get) if hits else KEY_COL - 1
    d_col, r_col = key_col - (KEY_COL - DISPUTE_COL), key_col - (KEY_COL - REASON_COL)
    warnings: list[str] = []
    disputed: list[DisputedLine] = []
    seen: set[str] = set()
    unknown_key = re.compile(r"^(INV|CRN|RCT)\|")
    for i, row in enumerate(grid, start=1):
        key = row[key_col] if key_col < len(row) else None
        if not isinstance(key, str) or not key:
            continue
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


def _money_text(text: str, ccy: str) -> str:
    exp = CURRENCY_EXPONENTS.get(ccy, 2)
    try:
        return f"{Decimal(text):,.{exp}f}"
    except InvalidOperation:
        return text


def _note(reply: ReplyFile, outcome: str, lang: str) -> str:
    """The Activities note: what the customer said, with the statement id (to spot a re-import)."""
    zh = lang == "zh"
    extra = []
    if reply.signer or reply.sign_date:
        extra.append(("签字 " if zh else "signed ") + " ".join(x for x in (reply.signer, reply.sign_date) if x))
    if reply.remarks:
        extra.append(("备注：" if zh else "remarks: ") + reply.remarks)
    tail = ("；" if zh else "; ").join([("对账单 " if zh else "statement ") + reply.statement_id] + extra)
    if outcome == "confirmed":
        bal = ", ".join(f"{c} {_money_text(v, c)}" for c, v in reply.closing.items())
        return f"确认余额 {bal}（{tail}）" if zh else f"confirmed balance {bal} ({tail})"
    if reply.disputed:
        items = [f"{d.doc_no}（{d.reason}）" if zh and d.reason else f"{d.doc_no} ({d.reason})" if d.reason else d.doc_no
                 for d in reply.disputed]
        body = ("；" if zh else "; ").join(items)
    else:
        body = "未确认余额，未标明异议单据" if zh else "balance not confirmed, no line marked"
    return f"有异议：{body}（{tail}）" if zh else f"disputed: {body} ({tail})"


def import_confirmations(book_path: str | Path, files: Iterable[str | Path], *, today: dt.date | None = None,
                         by: str = "") -> ImportSummary:
    """Import returned statements into the ledger workbook.

    Args:
        book_path: the ledger workbook (.xlsx/.xlsm).
        files: the returned statement files.
        today: the date of the Activities rows (default: today).
        by: the Activities "By" (who recorded the reply).

    Returns:
        The :class:`ImportSummary`. A file that cannot be imported is an error issue naming it;
        the others are still imported. Nothing is written when no reply is usable.
    """
    today = today or dt.date.today()
    book = Path(book_path)
    summary = ImportSummary(str(book))
    check_not_open(book)
    pkg = WorkbookPackage.open(book).refuse_1904()
    data = read_book(book)
    ledger, settings, _, _ = load(data, None, today)
    lang = settings.language
    inv = ledger.invoices
    by_no = {no: k for k, no in enumerate(inv["invoice_no"].tolist()) if no}
    customers = set(ledger.customers["customer_id"]) | set(inv["customer_id"])
    inv_sheet, inv_cols = ledger.places.get("Invoices", ("Invoices", {}))
    act = data.tables.get("Activities")
    act_layout = data.layouts.get("Activities")
    logged = []  # (note, outcome) of the log's rows: a reply imported twice is logged once
    if act is not None and "note" in act.frame:
        outs = act.frame["outcome"].tolist() if "outcome" in act.frame else [""] * len(act.frame)
        logged = [(convert.parse_text(n), convert.parse_text(o)) for n, o in zip(act.frame["note"].tolist(), outs)]
    inv_writes: dict[str, Any] = {}
    act_rows: list[dict[int, Any]] = []
    done: set[tuple[str, str]] = set()

    for f in files:
        fname = Path(f).name
        try:
            reply = read_reply(f)
        except ReplyError as exc:
            summary.issues.append(Issue(fname, str(exc)))
            continue
        for w in reply.warnings:
            summary.issues.append(Issue(fname, w, "warning"))
        if reply.customer_id not in customers:
            summary.issues.append(Issue(fname, f'customer "{reply.customer_id}" of statement {reply.statement_id} is not on '
                                               "this ledger (a statement of another workbook?); not imported"))
            continue
        bad = [d.doc_no for d in reply.disputed if d.kind != "receipt" and (
            d.doc_no not in by_no or inv["customer_id"].iat[by_no[d.doc_no]] != reply.customer_id
            or inv["currency"].iat[by_no[d.doc_no]] != d.currency)]
        if bad:
            summary.issues.append(Issue(fname, f"{', '.join(bad)} of statement {reply.statement_id} not found on the "
                                               f'Invoices sheet for customer "{reply.customer_id}"; not imported'))
            continue
        if reply.disputed:
            outcome = "disputed"
            if reply.confirmed:
                summary.issues.append(Issue(fname, "marked both confirmed and disputed: recorded as disputed", "warning"))
        elif reply.confirmed is True:
            outcome = "confirmed"
        elif reply.confirmed is False:
            outcome = "disputed"
        else:
            summary.issues.append(Issue(fname, f"statement {reply.statement_id} is neither confirmed nor disputed; "
                                               "nothing recorded", "warning"))
            continue
        word = OUTCOMES[lang][outcome]
        if (reply.statement_id, outcome) in done or any(reply.statement_id in n and o in (word, "") for n, o in logged):
            summary.issues.append(Issue(fname, f"statement {reply.statement_id} ({outcome}) was already imported; "
                                               "skipped", "warning"))
            continue
        done.add((reply.statement_id, outcome))
        note = _note(reply, outcome, lang)
        invoices = [d for d in reply.disputed if d.kind != "receipt"]
        if invoices and "disputed" not in inv_cols:
            summary.issues.append(Issue(inv_sheet, "has no Disputed column (争议): disputes are logged in Activities "
                                                   "only; add the column to flag the invoices", "warning"))
        elif invoices:
            for d in invoices:
                row = int(inv["row"].iat[by_no[d.doc_no]])
                inv_writes[f"{inv_cols['disputed']}{row}"] = YES[lang]
                if "dispute_reason" in inv_cols:
                    old = convert.parse_text(inv["dispute_reason"].iat[by_no[d.doc_no]])
                    reason = d.reason or old or (f"见对账单 {reply.statement_id}" if lang == "zh"
                                                 else f"see statement {reply.statement_id}")
                    inv_writes[f"{inv_cols['dispute_reason']}{row}"] = reason
        row_no = None
        if act is None or not act.columns:
            summary.issues.append(Issue("Activities", "no Activities sheet with a header: the reply is not logged",
                                        "warning"))
        else:
            values = {"date": today, "customer_id": reply.customer_id,
                      "invoice_no": invoices[0].doc_no if len(invoices) == 1 else "", "channel": CHANNEL,
                      "by": by, "note": note, "outcome": word}
            act_rows.append({col_index(act.columns[k]): v for k, v in values.items() if k in act.columns and v != ""})
            row_no = act_layout.last_row + len(act_rows)
        summary.replies.append(Reply(fname, reply.statement_id, reply.customer_id, outcome,
                                     tuple(d.doc_no for d in reply.disputed), row_no))

    if not inv_writes and not act_rows:
        return summary
    if inv_writes:
        set_sheet_cells(pkg, inv_sheet, inv_writes, header_row=data.layouts["Invoices"].header_row)
    if act_rows:
        styles = {}
        if "date" in act.columns:  # a date needs a date format to show as one
            styles[col_index(act.columns["date"])] = pkg.cell_style("yyyy-mm-dd")
        append_rows(pkg, act_layout.name, act_rows, header_row=act_layout.header_row, styles=styles)
    summary.backup = pkg.save_changes()
    summary.written = summary.backup is not None
    return summary

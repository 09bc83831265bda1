"""The Outbox sheet, the SMS list, and the collection-log rows a send appends to Activities.

The Outbox sheet is the tool's own (rewritten whole by every reminders run and after every
send): one row per message with its status, recipient, subject, items and draft file. The
user may set a row's status to ``hold`` (``暂缓``) to keep it back, or delete the row.

Activities is the user's collection log: the tool only ever appends complete rows to it
(:func:`xl_ar.book.append.append_rows`), one row per invoice a message listed, with the
message's id in the Note (``[xlar-…]``) so that the log itself also says what was sent.
Every workbook write goes through ``WorkbookPackage.save_changes``: refused while the book is open in
Excel, backed up first, saved atomically (a temp file renamed over the book), so a crash
leaves either the old or the new workbook, never a half-written one.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from python_calamine import CalamineWorkbook

from xl_ar.book.append import append_rows
from xl_ar.book.headers import header_label, normalise, sheet_label
from xl_ar.book.package import WorkbookPackage
from xl_ar.book.reader import BookData
from xl_ar.book.render import render_sheet
from xl_ar.book.sheetxml import col_index, col_letter
from xl_ar.documents.mail import csv_safe, write_atomic

OUTBOX_SHEETS = ("Outbox", "发件箱")
ID_IN_NOTE = re.compile(r"\[(xlar-[0-9a-f]{20})\]")

#: Outbox columns: field -> (English header, Chinese header).
OUTBOX_COLUMNS: dict[str, tuple[str, str]] = {
    "status": ("Status", "状态"), "channel": ("Channel", "方式"), "customer_id": ("CustomerID", "客户编号"),
    "name": ("Name", "客户名称"), "to": ("To", "收件人"), "subject": ("Subject", "主题"),
    "stage": ("Stage", "催收阶段"), "items": ("Items", "发票"), "amount": ("Amount", "金额"),
    "owner": ("Owner", "负责人"), "file": ("File", "文件"), "sent_at": ("SentAt", "发送时间"),
    "id": ("Id", "编号"), "note": ("Note", "备注"),
    "review": ("Review", "需审核"), "approved": ("Approved", "已批准"), "approved_by": ("ApprovedBy", "批准人"),
    "approved_at": ("ApprovedAt", "批准时间"),
}
_WIDTHS = {"status": 12, "channel": 8, "customer_id": 12, "name": 28, "to": 28, "subject": 40, "stage": 12,
           "items": 20, "amount": 22, "owner": 12, "file": 40, "sent_at": 20, "id": 26, "note": 40, "review": 10,
           "approved": 10, "approved_by": 14, "approved_at": 18}

#: Status key -> (English, Chinese). A user may type either (or "hold"/"暂缓") in the sheet.
STATUSES: dict[str, tuple[str, str]] = {
    "draft": ("draft", "待发送"), "sent": ("sent", "已发送"), "failed": ("failed", "发送失败"),
    "uncertain": ("check: sent?", "待核实"), "hold": ("hold", "暂缓"), "sms": ("SMS gateway", "短信待发"),
    "review": ("awaiting approval", "待审批"),
}
_STATUS_LOOKUP = {normalise(v): k for k, pair in STATUSES.items() for v in (k, *pair)}
_STATUS_LOOKUP.update({normalise(x): "hold" for x in ("skip", "don't send", "不发", "暂停", "跳过")})


@dataclass(frozen=True)
class OutboxEntry:
    """One row of the Outbox sheet (all text, as shown)."""

    status: str = "draft"
    channel: str = "email"
    customer_id: str = ""
    name: str = ""
    to: str = ""
    subject: str = ""
    stage: str = ""
    items: str = ""
    amount: str = ""
    owner: str = ""
    file: str = ""
    sent_at: str = ""
    id: str = ""
    note: str = ""
    review: str = ""
    approved: str = ""
    approved_by: str = ""
    approved_at: str = ""

    @property
    def needs_review(self) -> bool:
        """A message a person must approve before it goes (a lawyer's letter, a review stage)."""
        return bool(self.review.strip())

    def approval_missing(self) -> str:
        """Why this message may not go yet ("" when it needs no review or is approved)."""
        if not self.needs_review:
            return ""
        if normalise(self.approved) not in APPROVED_WORDS:
            return "awaiting approval: set Approved to yes (是), with ApprovedBy and ApprovedAt"
        if not self.approved_by.strip():
            return "approved, but ApprovedBy is blank: name who approved it"
        if not self.approved_at.strip():
            return "approved, but ApprovedAt is blank: give the date of the approval"
        return ""


#: What an Approved cell must say for a reviewed message to go.
APPROVED_WORDS = frozenset(normalise(w) for w in ("yes", "y", "approved", "是", "已批准", "批准", "同意", "已审核"))
#: The Outbox fields a person fills in, kept when a reminders run writes the sheet again.
PERSON_FIELDS = ("approved", "approved_by", "approved_at")


@dataclass(frozen=True)
class SentRecord:
    """A message the server accepted, as the collection log records it."""

    id: str
    date: dt.date
    customer_id: str
    items: list[str]
    channel: str
    by: str
    subject: str


def status_key(text: Any) -> str:
    """The status key for a status cell in English or Chinese ("" when unknown)."""
    return _STATUS_LOOKUP.get(normalise(text or ""), "")


def status_label(key: str, lang: str) -> str:
    """The status as the sheet shows it in ``lang``."""
    en, zh = STATUSES.get(key, (key, key))
    return zh if lang == "zh" else en


def read_sheet_rows(path: str | Path, names: Iterable[str]) -> tuple[str, list[list[Any]]] | None:
    """The rows of the first sheet whose name is one of ``names`` (case and width folded).

    Args:
        path: the workbook file (checked with ``WorkbookPackage.open`` by the caller).
        names: acceptable sheet names.

    Returns:
        (the sheet's name, rows of cell values), or None when there is no such sheet.
    """
    wanted = {normalise(n) for n in names}
    wb = CalamineWorkbook.from_path(str(path))
    try:
        for name in wb.sheet_names:
            if normalise(name) in wanted:
                return name, wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
    finally:
        wb.close()
    return None


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float) and v == int(v):
        return str(int(v))
    return str(v).strip()


def read_outbox(path: str | Path) -> tuple[str | None, list[OutboxEntry]]:
    """The Outbox sheet's rows.

    Args:
        path: the workbook file.

    Returns:
        (sheet name or None when there is no Outbox, entries in sheet order).
    """
    found = read_sheet_rows(path, OUTBOX_SHEETS)
    if found is None:
        return None, []
    name, rows = found
    return name, outbox_from_rows(rows)


def outbox_from_rows(rows: Sequence[Sequence[Any]]) -> list[OutboxEntry]:
    """The Outbox's entries from its rows of cell values (header first), from any adapter.

    Args:
        rows: the sheet's rows.

    Returns:
        The entries with an id, in sheet order; statuses as keys.
    """
    if not rows:
        return []
    lookup = {normalise(h): f for f, pair in OUTBOX_COLUMNS.items() for h in (f, *pair)}
    cols = {lookup[normalise(h)]: j for j, h in enumerate(rows[0]) if normalise(_text(h)) in lookup}
    out = []
    for row in rows[1:]:
        values = {f: _text(row[j]) if j < len(row) else "" for f, j in cols.items()}
        if not values.get("id"):
            continue
        values["status"] = status_key(values.get("status")) or values.get("status", "")
        out.append(OutboxEntry(**values))
    return out


def write_outbox(pkg: WorkbookPackage, entries: Sequence[OutboxEntry], lang: str, sheet: str | None = None) -> str:
    """Replace (or add) the Outbox sheet with ``entries``.

    Args:
        pkg: the open workbook package.
        entries: the rows; ``status`` holds a status key, shown in ``lang``.
        lang: "zh" or "en" (headers and statuses).
        sheet: the existing Outbox sheet's name, if any.

    Returns:
        The sheet's name.
    """
    name = sheet or next((n for n in pkg.sheet_names if normalise(n) in {normalise(x) for x in OUTBOX_SHEETS}),
                         OUTBOX_SHEETS[1] if lang == "zh" else OUTBOX_SHEETS[0])
    rows = outbox_rows(entries, lang)
    head = pkg.cell_style(None, bold=True, font_color="1F3864", fill="DDEBF7", halign="center")
    rows[0] = [(h, head) for h in rows[0]]
    widths = {j: float(_WIDTHS[f]) for j, f in enumerate(OUTBOX_COLUMNS, start=1)}
    last = f"{col_letter(len(OUTBOX_COLUMNS))}{max(len(rows), 2)}"
    pkg.set_sheet(name, render_sheet(rows, col_widths=widths, autofilter=f"A1:{last}"))
    return name


def outbox_rows(entries: Sequence[OutboxEntry], lang: str) -> list[list[Any]]:
    """The Outbox as rows of plain values (header first), for any adapter."""
    zh = lang == "zh"
    rows: list[list[Any]] = [[zh_ if zh else en for en, zh_ in OUTBOX_COLUMNS.values()]]
    for e in entries:
        rows.append([status_label(e.status, lang) if f == "status" else getattr(e, f) for f in OUTBOX_COLUMNS])
    return rows


def write_outbox_live(book: Any, entries: Sequence[OutboxEntry], lang: str) -> str:
    """Write the Outbox sheet into a workbook open in Excel (an xlwings ``Book``).

    Args:
        book: the xlwings ``Book`` (what ``LiveBook.book`` holds).
        entries: the rows.
        lang: "zh" or "en".

    Returns:
        The sheet's name.
    """
    from xl_ar.book.livebook import to_cell

    wanted = {normalise(x) for x in OUTBOX_SHEETS}
    sheet = next((s for s in book.sheets if normalise(s.name) in wanted), None)
    if sheet is None:
        sheet = book.sheets.add(OUTBOX_SHEETS[1] if lang == "zh" else OUTBOX_SHEETS[0], after=book.sheets[-1])
    else:
        sheet.clear_contents()
    rows = outbox_rows(entries, lang)
    # Text goes in with Excel's ' prefix: a subject starting with "=" stays text.
    sheet.range((1, 1)).value = [[to_cell(v) for v in row] for row in rows]
    return sheet.name


def write_sms_csv(path: Path, rows: Sequence[dict[str, Any]]) -> Path:
    """Write the SMS list for a gateway: UTF-8 with a BOM (Excel opens it in Chinese), CRLF.

    Every cell goes through :func:`xl_ar.documents.mail.csv_safe`: text starting with ``= + - @``
    cannot run as a formula when someone opens the list in a spreadsheet.

    Args:
        path: the .csv file.
        rows: dicts with the keys id, customer_id, name, phone, text, segments, stage, as_of.

    Returns:
        The path.
    """
    cols = ("id", "customer_id", "name", "phone", "text", "segments", "stage", "as_of")
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow(cols)
    for r in rows:
        w.writerow([csv_safe(r.get(c, "")) for c in cols])
    write_atomic(path, buf.getvalue().encode("utf-8-sig"))
    return path


def logged_ids(data: BookData) -> set[str]:
    """Message ids the Activities sheet already records (``[xlar-…]`` in a Note)."""
    acts = data.tables.get("Activities")
    if acts is None or "note" not in acts.frame:
        return set()
    return {m for v in acts.frame["note"].tolist() if isinstance(v, str) for m in ID_IN_NOTE.findall(v)}


def activity_values(rec: SentRecord, lang: str) -> list[dict[str, Any]]:
    """The collection-log rows of one sent message: field -> value, one row per invoice."""
    zh = lang == "zh"
    note = (f"已发送{'短信' if rec.channel == 'sms' else '邮件'}：{rec.subject} [{rec.id}]" if zh
            else f"Sent {'SMS' if rec.channel == 'sms' else 'e-mail'}: {rec.subject} [{rec.id}]")
    outcome = "已发送" if zh else "sent"
    return [{"date": rec.date, "customer_id": rec.customer_id, "invoice_no": inv, "channel": rec.channel,
             "by": rec.by, "note": note, "outcome": outcome} for inv in (rec.items or [""])]


def log_sent(pkg: WorkbookPackage, data: BookData, records: Sequence[SentRecord], lang: str) -> int:
    """Append the collection-log rows of sent messages to the Activities sheet.

    Args:
        pkg: the open workbook package (saved by the caller).
        data: the workbook as read (where Activities is and its columns).
        records: the messages to log (already-logged ones must be left out by the caller).
        lang: the workbook's language (note and outcome text; a new sheet's name and headers).

    Returns:
        The number of rows appended.
    """
    rows = [v for rec in records for v in activity_values(rec, lang)]
    if not rows:
        return 0
    acts = data.tables.get("Activities")
    layout = data.layouts.get("Activities")
    if acts is None or layout is None or not acts.columns:
        _new_activities_sheet(pkg, rows, lang)
        return len(rows)
    cols = {f: col_index(letters) for f, letters in acts.columns.items()}
    date_style = pkg.cell_style("yyyy-mm-dd")
    cells = [{cols[f]: v for f, v in r.items() if f in cols} for r in rows]
    append_rows(pkg, layout.name, cells, header_row=layout.header_row,
                styles={cols["date"]: date_style} if "date" in cols else {})
    return len(rows)


def _new_activities_sheet(pkg: WorkbookPackage, rows: list[dict[str, Any]], lang: str) -> None:
    from xl_ar.core.schema import ACTIVITIES

    names = [f.name for f in ACTIVITIES.fields]
    head = pkg.cell_style(None, bold=True)
    date_style = pkg.cell_style("yyyy-mm-dd")
    grid: list[list[Any]] = [[(header_label("Activities", n, lang), head) for n in names]]
    grid += [[r.get(n) for n in names] for r in rows]
    pkg.set_sheet(sheet_label("Activities", lang), render_sheet(grid, date_style=date_style))


def with_status(entries: Sequence[OutboxEntry], updates: dict[str, dict[str, str]]) -> list[OutboxEntry]:
    """Entries with some fields replaced, by message id (``{id: {"status": "sent", ...}}``)."""
    names = {f.name for f in fields(OutboxEntry)}
    return [replace(e, **{k: v for k, v in updates.get(e.id, {}).items() if k in names}) for e in entries]


__all__ = ["APPROVED_WORDS", "OUTBOX_COLUMNS", "PERSON_FIELDS", "OutboxEntry", "outbox_from_rows", "SentRecord", "log_sent", "logged_ids", "read_outbox",
           "read_sheet_rows", "status_key", "write_outbox", "write_outbox_live", "write_sms_csv"]

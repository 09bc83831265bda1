"""Reconciliation statements (对账单): per customer and currency, the period's documents with a
running balance, the closing balance's aging, and a block for the customer's confirmation.

``build_statements(ledger, settings, from, to)`` is pure: the ledger and the dates in, frozen
:class:`Statement` records out. The opening balance is what the customer owed at the end of
the day before the period (invoices − credit notes − receipts dated before ``from``); each
invoice adds to the balance, each credit note and receipt takes from it; the closing balance
is checked against the core's allocation at ``to`` (open items − unapplied money), so a
statement can never disagree with the aging the same ledger gives.

``statement_xlsx.write_statement_xlsx`` writes a NEW, editable workbook (nothing of the user's is
round-tripped). The workbook carries a very hidden ``_xlar`` sheet (statement id,
customer, currency sections, every line's key, and a checksum over all of it) plus defined
names on the confirmation cells, so a returned statement is read back reliably even after the
customer inserted rows or re-saved it in WPS or LibreOffice: see ``xl_ar.documents.confirmations``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from xl_ar.core.ledger import Ledger
from xl_ar.core.money import CURRENCY_EXPONENTS, to_major
from xl_ar.core.order import sort_order, text_ranks
from xl_ar.core.run import RunResult, refresh
from xl_ar.core.settings import Settings
from xl_ar.documents.filenames import case_safe, safe_stem
from xl_ar.documents.numerals import capital_amount

#: Line kinds and the codes used in line keys ("INV|I2"): one namespace per ledger sheet,
#: since an invoice and a receipt may share a number.
KIND_CODES = {"invoice": "INV", "credit": "CRN", "receipt": "RCT"}
_KIND_RANK = {"invoice": 0, "credit": 1, "receipt": 2}  # same day: what was billed comes first

MARKER_SHEET = "_xlar"
MARKER_FORMAT = "xl-ar statement"
#: "2": every marker cell and line key is written by :func:`marker_encode`; "1" (before) wrote them as they are.
MARKER_VERSION = "2"
#: Defined names of the confirmation cells (kept by Excel/WPS/LibreOffice when rows move).
NAMES = {"confirmed": "XLAR_Confirmed", "remarks": "XLAR_Remarks", "signer": "XLAR_Signer",
         "sign_date": "XLAR_SignDate"}
#: Columns of the lines table (1-based): the customer fills DISPUTE_COL and REASON_COL; KEY_COL is
#: hidden and names the ledger document of the row, whatever the customer does to row order.
DISPUTE_COL, REASON_COL, KEY_COL = 9, 10, 11
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PDF_MIME = "application/pdf"

TEXT = {
    "en": {
        "sheet": "Statement", "title": "Statement of Account", "customer": "Customer", "period": "Period",
        "to": "to", "statement_no": "Statement no.", "issued": "Issued", "currency": "Currency",
        "date": "Date", "type": "Type", "doc": "Document", "desc": "Description", "due": "Due date",
        "debit": "Invoiced", "credit": "Paid/credited", "balance": "Balance",
        "disputed": "Disputed? 有异议", "reason": "Reason for dispute",
        "opening": "Opening balance at {date}", "totals": "Period totals",
        "closing": "Closing balance at {date}", "ledger": "Ledger balance at {date}", "ties": "ties: yes",
        "invoice": "Invoice", "credit_note": "Credit note", "receipt": "Receipt", "for_invoice": "for invoice {ref}",
        "aging": "Aging of the closing balance at {date} (by {basis})", "basis_due": "due date",
        "basis_invoice": "invoice date", "open_items": "Open invoices", "unapplied": "Less: unapplied receipts and credits",
        "net": "= Closing balance", "in_dispute": "of which in dispute",
        "confirm_title": "Confirmation (please return)",
        "confirm_text": ("Please check the balance above. If it is correct, choose Yes under \"Confirmed\". If not, choose "
                         "Yes under \"Disputed?\" on each line you dispute and give the reason. Then sign, stamp and "
                         "return this statement."),
        "confirmed": "Confirmed 确认无误", "remarks": "Remarks", "signer": "Signature", "seal": "Company seal",
        "sign_date": "Date", "yes": "Yes", "no": "No", "page": "Page {n} of {total}", "none": "No documents in the period",
        "in_words": "In words", "confirm_balance": "We confirm our balance due to you at {date}: {ccy} {amount}",
    },
    "zh": {
        "sheet": "对账单", "title": "对账单", "customer": "客户", "period": "对账期间", "to": "至",
        "statement_no": "对账单号", "issued": "出具日期", "currency": "币种", "date": "日期", "type": "类型",
        "doc": "单据号", "desc": "摘要", "due": "到期日", "debit": "应收（借方）", "credit": "已收/冲减",
        "balance": "余额", "disputed": "有异议? Disputed", "reason": "异议原因",
        "opening": "期初余额（{date}）", "totals": "本期合计", "closing": "期末余额（{date}）",
        "ledger": "台账余额（{date}）", "ties": "相符", "invoice": "发票", "credit_note": "红字发票",
        "receipt": "收款", "for_invoice": "核销发票 {ref}",
        "aging": "期末余额账龄（截至 {date}，按{basis}）", "basis_due": "到期日", "basis_invoice": "开票日",
        "open_items": "未收发票合计", "unapplied": "减：未核销收款及红字发票", "net": "= 期末余额",
        "in_dispute": "其中有争议", "confirm_title": "确认栏（请签章后寄回）",
        "confirm_text": ("请核对上述余额。如无误，请在“确认无误”处选择“是”；如有异议，请在有异议的单据行选择“是”"
                         "并填写原因。签字、盖章后寄回本对账单。"),
        "confirmed": "确认无误 Confirmed", "remarks": "备注", "signer": "签字", "seal": "公司盖章",
        "sign_date": "日期", "yes": "是", "no": "否", "page": "第 {n} 页，共 {total} 页", "none": "本期无发生额",
        "in_words": "大写", "confirm_balance": "截至 {date}，本公司欠贵公司余额为 {ccy} {amount}",
    },
}


@dataclass(frozen=True)
class StatementLine:
    """One document in the period.

    Attributes:
        date: the document's date.
        kind: "invoice", "credit" (a credit note: a negative invoice line) or "receipt".
        doc_no: invoice, credit note or receipt number.
        description: the ledger's description (invoices and credit notes).
        reference: the invoice a receipt names, if any.
        due_date: an invoice's due date.
        debit_minor: what the document adds to the balance (invoices).
        credit_minor: what it takes off (credit notes, receipts), positive.
        balance_minor: the running balance after it.
        row: its Excel row on the Invoices or Receipts sheet.
        disputed: already marked disputed on the ledger.
    """

    date: dt.date
    kind: str
    doc_no: str
    description: str
    reference: str
    due_date: dt.date | None
    debit_minor: int
    credit_minor: int
    balance_minor: int
    row: int
    disputed: bool

    @property
    def key(self) -> str:
        """The line's key on the statement, e.g. ``INV|I2``."""
        return f"{KIND_CODES[self.kind]}|{self.doc_no}"


@dataclass(frozen=True)
class StatementSection:
    """One currency of a statement (amounts in minor units).

    Attributes:
        opening_minor: balance at the end of the day before the period.
        lines: the period's documents in date order.
        closing_minor: opening + period movements.
        ledger_minor: invoices − credit notes − receipts dated up to the period's end, per the ledger.
        aging_minor: open invoices per aging bucket at the period's end.
        open_minor: open invoices in all (the sum of ``aging_minor``).
        unapplied_minor: receipts and credit notes not applied to any invoice.
        disputed_minor: open invoices marked disputed.
    """

    currency: str
    exp: int
    opening_minor: int
    lines: tuple[StatementLine, ...]
    closing_minor: int
    ledger_minor: int
    aging_minor: tuple[int, ...]
    open_minor: int
    unapplied_minor: int
    disputed_minor: int

    @property
    def debit_minor(self) -> int:  # the period's invoices
        return sum(x.debit_minor for x in self.lines)

    @property
    def credit_minor(self) -> int:  # the period's credit notes and receipts
        return sum(x.credit_minor for x in self.lines)

    @property
    def ties(self) -> bool:
        """Closing = the ledger's balance = open items − unapplied money."""
        return self.closing_minor == self.ledger_minor == self.open_minor - self.unapplied_minor


@dataclass(frozen=True)
class Statement:
    """A customer's statement for a period: one section per currency."""

    statement_id: str
    customer_id: str
    customer_name: str
    contact: str
    email: str
    company_en: str
    company_zh: str
    period_from: dt.date
    period_to: dt.date
    lang: str
    aging_edges: tuple[int, ...]
    aging_basis: str
    sections: tuple[StatementSection, ...]

    def company(self, lang: str) -> str:
        """The issuing company's name in ``lang`` (the other language's when only that is set)."""
        return (self.company_zh or self.company_en) if lang == "zh" else (self.company_en or self.company_zh)


def statement_id(customer_id: str, period_from: dt.date, period_to: dt.date) -> str:
    """The id of a statement: the same customer and period always give the same id."""
    return f"ST-{customer_id}-{period_from:%Y%m%d}-{period_to:%Y%m%d}"


def file_stem(statement: Statement, cid: str | None = None) -> str:
    """A file name (without extension) safe on Windows, macOS and Linux, bounded and unique.

    ``ST-<customer>-<from>-<to>``: the customer id made safe by :func:`safe_stem` (cut, and
    told apart by a digest, when it had to be changed), the period always kept whole. A run
    writing many statements into one folder passes ``cid`` from :func:`customer_stems`.
    """
    cid = cid if cid is not None else safe_stem(statement.customer_id, "customer")
    return f"ST-{cid}-{statement.period_from:%Y%m%d}-{statement.period_to:%Y%m%d}"


def customer_stems(statements: Sequence[Statement]) -> list[str]:
    """Each statement's customer part of its file name, none two equal but for letter case
    (customers ``C1`` and ``c1`` would share a file on Windows and macOS)."""
    ids = [st.customer_id for st in statements]
    return case_safe([safe_stem(c, "customer") for c in ids], ids)


def fmt_money(minor: int, exp: int) -> str:
    """``800000, 2`` -> ``"8,000.00"`` (exact: Decimal, never float)."""
    return f"{to_major(minor, exp):,.{exp}f}"


def closing_in_words(sec: "StatementSection", lang: str) -> str:
    """The closing balance in capital numerals (大写) for a Chinese renminbi section, else ""."""
    return capital_amount(sec.closing_minor, sec.exp, sec.currency) if lang == "zh" else ""


def confirm_lines(statement: "Statement", lang: str) -> list[str]:
    """The balance the customer confirms, one line per currency (Chinese: also in capital numerals)."""
    t = TEXT["zh" if lang == "zh" else "en"]
    out = []
    for sec in statement.sections:
        line = t["confirm_balance"].format(date=f"{statement.period_to:%Y-%m-%d}", ccy=sec.currency,
                                           amount=fmt_money(sec.closing_minor, sec.exp))
        words = closing_in_words(sec, lang)
        out.append(f"{line}（{t['in_words']}：{words}）" if words else line)
    return out


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def _company_names(settings: Settings) -> tuple[str, str]:
    """(English, Chinese) company name: the documents settings the reminders read too."""
    try:  # the documents package parses CompanyName/CompanyNameZh and their Chinese key aliases
        from xl_ar.documents import parse_docs_settings

        docs, _ = parse_docs_settings(settings.extra)
        return docs.company_name, docs.company_name_zh
    except ImportError:
        raw = {k: settings.extra.get(k) for k in ("CompanyName", "CompanyNameZh")}
        return tuple(_text(v[0] if isinstance(v, tuple) else v) for v in raw.values())  # type: ignore[return-value]


def _documents(ledger: Ledger, end: np.datetime64) -> dict[str, np.ndarray]:
    """Every invoice, credit note and receipt dated up to ``end``, as balance movements: whole
    columns sorted by customer, currency, date, kind (:data:`_KIND_RANK`) and row.

    Made as numpy columns and sorted once by the rows' keys packed into one integer (the texts by
    their ranks, :mod:`xl_ar.core.order`): at a full sheet's 1.78 million documents the statement
    source took 1.9-2.2 s with them made and sorted as a frame, 1.5-1.6 s so.
    """
    inv, rec = ledger.invoices, ledger.receipts
    amt = inv["amount_minor"].to_numpy(dtype=np.int64)
    credit, n_i, n_r = amt < 0, len(inv), len(rec)

    def both(invoices: np.ndarray, receipts: np.ndarray) -> np.ndarray:
        return np.concatenate([invoices, receipts])

    def text(frame: pd.DataFrame, col: str) -> np.ndarray:
        return frame[col].to_numpy(dtype=object)

    def same(n: int, value: Any, dtype: Any = object) -> np.ndarray:
        return np.full(n, value, dtype=dtype)

    cols = {
        "customer_id": both(text(inv, "customer_id"), text(rec, "customer_id")),
        "currency": both(text(inv, "currency"), text(rec, "currency")),
        "date": both(inv["invoice_date"].to_numpy(dtype="datetime64[s]"),
                     rec["receipt_date"].to_numpy(dtype="datetime64[s]")),
        "kind": both(np.where(credit, "credit", "invoice").astype(object), same(n_r, "receipt")),
        "doc_no": both(text(inv, "invoice_no"), text(rec, "receipt_no")),
        "description": both(text(inv, "description"), same(n_r, "")),
        "reference": both(same(n_i, ""), text(rec, "invoice_no")),
        "due_date": both(inv["due_date"].to_numpy(dtype="datetime64[s]"), same(n_r, "NaT", "datetime64[s]")),
        "move": both(amt, -rec["amount_minor"].to_numpy(dtype=np.int64)),
        "row": both(inv["row"].to_numpy(dtype=np.int64), rec["row"].to_numpy(dtype=np.int64)),
        "disputed": both(inv["disputed"].to_numpy(dtype=bool), same(n_r, False, bool)),
        "rank": both(np.where(credit, _KIND_RANK["credit"], _KIND_RANK["invoice"]),
                     same(n_r, _KIND_RANK["receipt"], np.int64)),
    }
    keep = np.flatnonzero(~np.isnat(cols["date"]) & (cols["date"] <= end) & (cols["customer_id"] != ""))
    at = keep[_document_order({k: cols[k][keep] for k in ("customer_id", "currency", "date", "rank", "row")})]
    return {k: v[at] for k, v in cols.items()}


def _document_order(cols: dict[str, np.ndarray]) -> np.ndarray:
    """The stable order of the documents by customer, currency, date, kind and row."""
    cid, ccy = text_ranks(cols["customer_id"]), text_ranks(cols["currency"])
    if cid is None or ccy is None:  # (validation gives texts; anything else is sorted as a frame would)
        frame = pd.DataFrame({k: cols[k] for k in ("customer_id", "currency", "date", "rank", "row")})
        return np.asarray(frame.sort_values(list(frame.columns), kind="stable").index, dtype=np.int64)
    seconds = cols["date"].view(np.int64)
    first = int(seconds.min()) if len(seconds) else 0
    if not ((seconds - first) % 86400).any():
        day = (seconds - first) // 86400  # dates without a time of day, as validation gives them
    else:
        day = np.unique(seconds, return_inverse=True)[1]
    return sort_order([cid, ccy, (day, int(day.max(initial=0)) + 1), (cols["rank"], len(_KIND_RANK)),
                       (cols["row"], int(cols["row"].max(initial=0)) + 1)])


class StatementSource:
    """What every statement of a period shares, computed once: the documents up to the period's
    end, the open items and unapplied money at that date (one allocation for all customers).

    A run of many documents (statements for every customer, a reminder per customer with its
    statement attached) makes one source and slices it per customer, instead of allocating the
    whole ledger again for each one. The documents and open items are kept as whole columns
    (Python lists and integer arrays) sorted by customer and currency, with where each
    customer's run of each currency starts and ends: a statement is a few slices of them.

    Args:
        ledger: a validated ledger without errors.
        settings: the run's settings (aging edges and basis, base currency, language, company
            name from ``CompanyName``/``CompanyNameZh``).
        period_to: last day of the period (the aging is at this date).
        result: a refresh of the same ledger and settings at ``period_to`` to reuse (its
            open items, buckets and unapplied money); None computes one.
    """

    def __init__(self, ledger: Ledger, settings: Settings, period_to: dt.date, result: RunResult | None = None):
        if result is None or result.as_of != period_to:
            result = refresh(ledger, settings, period_to, parts=())  # the position is what a statement uses
        self.ledger, self.settings, self.period_to = ledger, settings, period_to
        docs = _documents(ledger, np.datetime64(period_to, "s"))
        self.n_b = len(settings.aging_edges) + 2
        self.docs = _Columns(docs, days=("date", "due_date"))
        self.doc_runs = _runs(docs)
        inv = ledger.invoices
        open_minor = result.invoices["open_minor"].to_numpy(dtype=np.int64)
        items = pd.DataFrame({
            "customer_id": inv["customer_id"].to_numpy(dtype=object), "currency": inv["currency"].to_numpy(dtype=object),
            "open": open_minor, "bucket": result.invoices["bucket"].to_numpy(dtype=np.int64),
            "disputed": inv["disputed"].to_numpy(dtype=bool),
        })[open_minor > 0].sort_values(["customer_id", "currency"], kind="stable")
        self.open_items = {k: items[k].to_numpy() for k in ("open", "bucket", "disputed")}
        self.open_runs = _runs(items)
        un = result.allocation.unapplied
        self.unapplied = un.groupby(["customer_id", "currency"])["amount_minor"].sum().to_dict() if len(un) else {}
        cust = ledger.customers
        self.info = {c: (n, ct, e, lg) for c, n, ct, e, lg in zip(
            cust["customer_id"], cust["name"], cust["contact"], cust["email"], cust["language"])}
        self.order = [c for c in cust["customer_id"] if c] + sorted(set(self.doc_runs) - set(cust["customer_id"]))
        self.present = set(self.order)  # asked once a statement when a run attaches each customer's own
        self.known = set(cust["customer_id"]) | set(ledger.invoices["customer_id"].to_numpy(dtype=object))
        self.company = _company_names(settings)

    def statements(self, period_from: dt.date, *, customers: Iterable[str] | None = None, lang: str | None = None,
                   include_quiet: bool = False) -> list[Statement]:
        """The period's statements (see :func:`build_statements`), from ``period_from`` to the source's end."""
        if period_from > self.period_to:
            raise ValueError(f"the period ends ({self.period_to}) before it starts ({period_from})")
        settings, start = self.settings, period_from
        order = self.order
        if customers is not None:
            order = [c for c in dict.fromkeys(customers) if c in self.present]
        company_en, company_zh = self.company
        out: list[Statement] = []
        for cid in order:
            runs = self.doc_runs.get(cid, {})
            sections = []
            for ccy in sorted(runs, key=lambda c: (c != settings.base_currency, c)):
                lo, hi = self.open_runs.get(cid, {}).get(ccy, (0, 0))
                items = {k: v[lo:hi] for k, v in self.open_items.items()}
                sec = _section(self.docs, runs[ccy], ccy, start, items, self.unapplied.get((cid, ccy), 0), self.n_b, cid)
                if sec.opening_minor or sec.lines or sec.closing_minor or sec.open_minor or sec.unapplied_minor:
                    sections.append(sec)
            if not sections:
                if not (include_quiet and customers is not None):
                    continue
                ccy = settings.base_currency
                sections = [StatementSection(ccy, CURRENCY_EXPONENTS.get(ccy, 2), 0, (), 0, 0, (0,) * self.n_b, 0, 0, 0)]
            name, contact, email, c_lang = self.info.get(cid, ("", "", "", ""))
            out.append(Statement(
                statement_id(cid, period_from, self.period_to), cid, _text(name), _text(contact), _text(email),
                company_en, company_zh, period_from, self.period_to, lang or _text(c_lang) or settings.language,
                tuple(settings.aging_edges), settings.aging_basis, tuple(sections)))
        return out


class _Columns(dict):
    """Sorted documents' columns (:func:`_documents`) as Python lists (``days`` as dates, NaT as
    None) and their ``move`` as an integer array: sliced per statement section without pandas."""

    def __init__(self, cols: dict[str, np.ndarray], days: Sequence[str]):
        super().__init__({k: v.tolist() for k, v in cols.items() if k not in days and k != "move"})
        for k in days:
            self[k] = cols[k].astype("datetime64[D]").tolist()
        self["move"] = cols["move"]


def _runs(frame: pd.DataFrame | dict[str, np.ndarray]) -> dict[str, dict[str, tuple[int, int]]]:
    """customer -> currency -> (start, end) of its rows in ``frame`` (sorted by both)."""
    cid, ccy = np.asarray(frame["customer_id"], dtype=object), np.asarray(frame["currency"], dtype=object)
    n = len(cid)
    if not n:
        return {}
    change = np.flatnonzero((cid[1:] != cid[:-1]) | (ccy[1:] != ccy[:-1])) + 1
    starts = np.concatenate(([0], change)).tolist()
    ends = np.concatenate((change, [n])).tolist()
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for lo, hi in zip(starts, ends):
        out.setdefault(cid[lo], {})[ccy[lo]] = (lo, hi)
    return out


def build_statements(
    ledger: Ledger,
    settings: Settings,
    period_from: dt.date,
    period_to: dt.date,
    *,
    customers: Iterable[str] | None = None,
    lang: str | None = None,
    include_quiet: bool = False,
    result: RunResult | None = None,
) -> list[Statement]:
    """Build the statements of a period.

    Args:
        ledger: a validated ledger without errors.
        settings: the run's settings (aging edges and basis, base currency, language, company
            name from ``CompanyName``/``CompanyNameZh``).
        period_from: first day of the period.
        period_to: last day of the period (the aging is at this date).
        customers: only these customer ids (default: every customer with something to state).
        lang: the statements' language; default each customer's own Language, else the book's.
        include_quiet: also give a statement (a zero one) to a selected customer with no
            balance and no document in the period.
        result: a refresh of the same ledger at ``period_to`` to reuse (None computes one).

    Returns:
        One :class:`Statement` per customer, in the Customers sheet's order.

    Raises:
        ValueError: the period ends before it starts.
        AssertionError: a closing balance does not tie to the allocation (a bug, not bad data).
    """
    if period_from > period_to:
        raise ValueError(f"the period ends ({period_to}) before it starts ({period_from})")
    return StatementSource(ledger, settings, period_to, result).statements(
        period_from, customers=customers, lang=lang, include_quiet=include_quiet)


def _section(docs: _Columns, run: tuple[int, int], ccy: str, start: dt.date, items: dict[str, np.ndarray],
             unapplied: int, n_b: int, cid: str) -> StatementSection:
    """One currency's section from its run of documents (sorted, cut at the period's end) and its open items."""
    lo, hi = run
    days = docs["date"][lo:hi]
    first = bisect.bisect_left(days, start)  # documents before the period make the opening balance
    move = docs["move"][lo:hi]
    opening = int(move[:first].sum())
    running = (opening + np.cumsum(move[first:])).tolist()
    inside = slice(lo + first, hi)
    lines = [
        StatementLine(day, kind, _text(doc), _text(desc), _text(ref), due if kind == "invoice" else None,
                      max(mv, 0), max(-mv, 0), bal, row, disputed)
        for day, kind, doc, desc, ref, due, mv, bal, row, disputed in zip(
            days[first:], docs["kind"][inside], docs["doc_no"][inside], docs["description"][inside],
            docs["reference"][inside], docs["due_date"][inside], move[first:].tolist(), running, docs["row"][inside],
            docs["disputed"][inside])
    ]
    closing = running[-1] if running else opening
    o_open, o_bucket, o_disputed = items["open"], items["bucket"], items["disputed"].astype(bool)
    per_bucket = np.zeros(n_b, np.int64)
    counted = (o_bucket >= 0) & (o_bucket < n_b)
    np.add.at(per_bucket, o_bucket[counted], o_open[counted])  # integer sums: exact to the cent
    aging = tuple(int(x) for x in per_bucket)
    sec = StatementSection(ccy, CURRENCY_EXPONENTS.get(ccy, 2), opening, tuple(lines), closing, int(move.sum()),
                           aging, int(o_open.sum()), int(unapplied), int(o_open[o_disputed].sum()))
    if not sec.ties:  # the same documents, summed two ways: a mismatch is a bug, never bad data
        raise AssertionError(f"statement of {cid} {ccy} does not tie to the ledger: {sec}")
    return sec


# ----------------------------------------------------------------------------- the marker


def marker_checksum(pairs: Sequence[Sequence[str]], lines: Sequence[Sequence[str]]) -> str:
    """Digest of the marker's content: detects a marker edited by hand (it is not a signature)."""
    blob = json.dumps([[list(p) for p in pairs], [list(x) for x in lines]], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]


#: What a marker cell holds as it is: ASCII letters, digits and ``-.:|``. No writer escapes these
#: and no reader changes them, and a text of them cannot hold ``_xHHHH_`` (it has no underscore).
_MARKER_PLAIN = re.compile(r"[A-Za-z0-9.:|-]*")
_MARKER_UNSAFE = re.compile(r"[^A-Za-z0-9.:|-]+")
_MARKER_CELL = re.compile(r"(?:[A-Za-z0-9.:|-]|%[0-9A-F]{2})*")


def _percent(m: re.Match[str]) -> str:
    return "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogatepass"))


def marker_encode(text: str) -> str:
    """A marker text as its cell holds it: every character but ASCII letters, digits and ``-.:|``
    as its UTF-8 bytes, ``%XX`` each (``"INV|A_1 货"`` -> ``"INV|A%5F1%20%E8%B4%A7"``).

    Why the marker does not hold its texts as they are: a cell's text is stored as an
    ``ST_Xstring``, which writes a character XML cannot hold (a control character, U+FFFE) as
    ``_xHHHH_`` and a literal ``_xHHHH_`` as ``_x005F_xHHHH_``, and the applications that
    re-save or read a returned statement each handle that escaping in their own way: openpyxl
    decodes no ``_xHHHH_`` but drops every ``x005F_`` of a shared string (so a literal
    ``_x0041_`` it re-saves has become an ``A``); LibreOffice decodes, writes the hex back in
    lower case and turns a carriage return into a line feed in a text it splits into runs. A
    text of the characters kept here is the same in all of them, so the checksum made over the
    texts holds whoever re-saved the file; decoding the escapes on reading instead could not
    undo what openpyxl dropped. The encoding is one to one (:func:`marker_decode` refuses any
    other spelling), so it cannot hide an altered marker.

    Args:
        text: any text (a lone surrogate too).

    Returns:
        ASCII letters, digits, ``-.:|`` and ``%XX`` (upper-case hex); ``text`` itself when it
        holds nothing else.
    """
    return text if _MARKER_PLAIN.fullmatch(text) else _MARKER_UNSAFE.sub(_percent, text)


def marker_decode(cell: str) -> str | None:
    """The text a marker cell holds: the inverse of :func:`marker_encode`.

    Args:
        cell: the cell's text as read.

    Returns:
        The text, or None when ``cell`` is not exactly what :func:`marker_encode` writes for
        some text (another character, ``%`` without two upper-case hex digits, bytes that are
        not UTF-8, ``%41`` for ``A``).
    """
    if _MARKER_PLAIN.fullmatch(cell):
        return cell
    if not _MARKER_CELL.fullmatch(cell):
        return None
    try:
        text = urllib.parse.unquote_to_bytes(cell).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    return text if marker_encode(text) == cell else None


def marker_content(statement: Statement, lang: str, sheet: str,
                   cells: dict[str, str]) -> tuple[list[list[str]], list[list[str]]]:
    """The marker's key/value pairs and line table, all text, as the checksum covers them (the
    workbook holds each as :func:`marker_encode` writes it).

    Args:
        statement: the statement.
        lang: the language it was written in.
        sheet: the statement sheet's name.
        cells: confirmation field -> cell reference on that sheet (e.g. ``"confirmed": "C40"``).
    """
    pairs = [["format", MARKER_FORMAT], ["version", MARKER_VERSION], ["statement_id", statement.statement_id],
             ["customer_id", statement.customer_id], ["customer_name", statement.customer_name],
             ["period_from", statement.period_from.isoformat()], ["period_to", statement.period_to.isoformat()],
             ["lang", lang], ["sheet", sheet]]
    pairs += [[f"cell:{k}", v] for k, v in sorted(cells.items())]
    pairs += [[f"closing:{s.currency}", str(to_major(s.closing_minor, s.exp))] for s in statement.sections]
    lines = [[x.key, s.currency, x.kind, x.doc_no, str(to_major(x.debit_minor - x.credit_minor, s.exp)), str(x.row)]
             for s in statement.sections for x in s.lines]
    return pairs, lines

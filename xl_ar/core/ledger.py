"""Validating the raw ledger tables into the typed ledger the core computes on.

``validate_ledger(raw, settings) -> (Ledger, issues)``: every problem is an :class:`Issue`
naming sheet, row and column, e.g. ``Invoices!D17: due date "2025-13-01" is not a date``.
Errors stop a run before anything is written; warnings are reported and the run goes on.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from xl_ar.core import convert
from xl_ar.core.issues import Issue
from xl_ar.core.allocation import allocate_receipts
from xl_ar.core.money import CURRENCY_EXPONENTS, MAX_AMOUNT, to_minor_array
from xl_ar.core.named import GroupRows, NamedInvoices, NamedRows, coded_groups
from xl_ar.core.names import CustomerIndex
from xl_ar.core.progress import Step
from xl_ar.core.terms import check_customer_terms
from xl_ar.core.writeoffs import settle_writeoffs
from xl_ar.core.fx import check_fx_rates
from xl_ar.core.schema import (ACTIVITIES, CUSTOMERS, FX_RATES, INVOICES, NUMBER_KINDS, ORDERS, RATES, RECEIPTS, Field,
                               Table)
from xl_ar.core.settings import Settings

_LABELS = {
    "invoice_no": "invoice number", "customer_id": "customer ID", "invoice_date": "invoice date",
    "due_date": "due date", "amount": "amount", "currency": "currency", "receipt_no":
    "receipt number", "receipt_date": "receipt date", "date": "date", "promise_date":
    "promise date", "promise_amount": "promised amount", "terms_days": "terms (days)",
    "credit_limit": "credit limit", "disputed": "disputed flag", "effective_from":
    "effective date", "rate_percent": "rate", "class": "class",
}


@dataclass(frozen=True)
class RawTable:
    """One ledger sheet as read: raw cell values under core field names.

    Attributes:
        table: the canonical table ("Invoices").
        sheet: the sheet's name in the workbook (may be Chinese, e.g. "发票").
        frame: one column per field found, raw cell objects, plus ``row`` (Excel row number);
            a sheet read as columns gives numbers as float64 and dates as ``datetime64`` (blank:
            NaN, NaT), having no other kind of cell in them.
        columns: field -> column letters in the sheet, for naming places.
        coded: text field -> (codes, distinct cells) with ``cells[codes]`` its column, when
            the reader coded it already (by columns); each distinct cell is a text.
    """

    table: str
    sheet: str
    frame: pd.DataFrame
    columns: Mapping[str, str]
    coded: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass(frozen=True)
class Ledger:
    """The typed ledger. Money in integer minor units (``*_minor``), dates ``datetime64[s]``."""

    customers: pd.DataFrame
    invoices: pd.DataFrame
    receipts: pd.DataFrame
    activities: pd.DataFrame
    rates: pd.DataFrame | None = None
    places: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)
    orders: pd.DataFrame | None = None
    #: settled write-offs (see ``xl_ar.core.writeoffs``); None = none
    writeoffs: pd.DataFrame | None = None
    #: dated exchange rates to the base currency (``date``, ``currency``, ``rate``); None = no sheet
    fx_rates: pd.DataFrame | None = None
    #: (table, column) -> (codes, texts) of the text columns as validation coded them, for
    #: :func:`compact_text` (which empties it); a column changed since is coded again there
    text_codes: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = field(
        default_factory=dict, repr=False, compare=False)
    #: the invoices the receipts and credit notes name, as validation found them, for the run's
    #: keys (:mod:`xl_ar.core.named`); None: found when needed
    named: NamedRows | None = field(default=None, repr=False, compare=False)
    #: the (customer, currency) groups of the invoices and receipts, made from validation's codes
    #: when it kept them, for the run's keys; None: made when needed
    groups: GroupRows | None = field(default=None, repr=False, compare=False)
    #: (table, column) of the text columns whose distinct texts are the reader's own strings,
    #: made together (a sheet read by columns), or that the sheet does not have (one "" in every
    #: row): :func:`compact_text` leaves them as they are, without comparing them again
    fresh_text: frozenset[tuple[str, str]] = field(default=frozenset(), repr=False, compare=False)


def compact_text(ledger: Ledger) -> None:
    """Give the text columns of the record tables fresh string objects, one per distinct text.

    Called once the raw cells are dropped (the results are equal, only the objects change).
    A reader makes a string for every cell; the few that live on in the ledger are scattered
    through all the memory the reading took and keep it from going back to the system (about
    0.4 GB at a million invoices). Copied, they sit together and the rest is freed.
    """
    known = ledger.text_codes
    for table in ("customers", "invoices", "receipts", "activities"):
        frame = getattr(ledger, table)
        for name in frame.columns:
            col = frame[name]
            if col.dtype != object and str(col.dtype) != "str":
                continue
            coded = known.pop((table, name), None)
            if (table, name) in ledger.fresh_text:
                continue  # one string per distinct text already, made together (or one "" in every row)
            cells = col.to_numpy(dtype=object)
            # Validation's coding, when the column is still what it coded (hashing a million
            # distinct invoice numbers again costs a quarter of a second).
            if coded is not None and len(coded[0]) == len(cells) and bool((coded[1][coded[0]] == cells).all()):
                codes, values = coded
            else:
                codes, values = pd.factorize(cells)
            # A missing value (code -1) takes the last one: NaN.
            fresh = np.append(convert.fresh_texts(values), np.nan)[codes]
            frame[name] = pd.Series(fresh, index=frame.index, dtype=col.dtype)
    known.clear()


def _label(name: str) -> str:
    return _LABELS.get(name, name.replace("_", " "))


class _Checker:
    """Collects issues for one table, naming cells as Sheet!ColRow."""

    def __init__(self, raw: RawTable, issues: list[Issue]):
        self.raw = raw
        self.issues = issues
        self.rows = raw.frame["row"].to_numpy() if "row" in raw.frame else np.arange(2, len(raw.frame) + 2)

    def where(self, name: str | None = None, pos: int | None = None) -> str:
        sheet = self.raw.sheet
        if name is None:
            return sheet if pos is None else f"{sheet}!{self.rows[pos]}:{self.rows[pos]}"
        col = self.raw.columns.get(name, "?")
        return f"{sheet}!{col}" if pos is None else f"{sheet}!{col}{self.rows[pos]}"

    def add(self, name: str | None, pos: int | None, message: str, severity: str = "error") -> None:
        self.issues.append(Issue(self.where(name, pos), message, severity))  # type: ignore[arg-type]

    def column(self, name: str, kind: str | None = None) -> np.ndarray:
        """A field's cells as objects; for a field of ``kind``, a column of its own type as it is
        (a sheet read by columns has amounts as float64 and dates as datetime64)."""
        f = self.raw.frame
        if name not in f:
            return np.full(len(f), None, dtype=object)
        col = f[name]
        if isinstance(col.dtype, np.dtype) and (col.dtype.kind == "f" and kind in NUMBER_KINDS
                                                or col.dtype.kind == "M" and kind == "date"):
            return col.to_numpy()
        return col.to_numpy(dtype=object)


def _typed_frame(raw: RawTable, table: Table, settings: Settings, issues: list[Issue],
                 present: bool = True, coded: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
                 fresh: set[str] | None = None) -> pd.DataFrame:
    """Convert every declared column of one table, reporting bad cells and blank required ones.

    Text is coded by distinct value (``convert.text_codes``): blanks, allowed values, over-long
    text and duplicate keys are checked once per distinct text, and equal texts share one
    object; a column the sheet does not have is blank without a look at its cells. At a
    million invoices and 0.7 million receipts the tables take 2.3 s of CPU where converting
    and checking cell by cell took 5.9 s.
    """
    chk = _Checker(raw, issues)
    frame = raw.frame
    for f in table.fields:
        if present and f.required and f.name not in frame:
            issues.append(Issue(raw.sheet, f'required column "{f.header}" is missing'))
    out: dict[str, np.ndarray] = {"row": chk.rows.astype(np.int64)}
    key: tuple[np.ndarray, np.ndarray] | None = None  # the key field's (codes, texts)
    for f in table.fields:
        if f.name not in frame and f.kind != "currency":  # (a blank currency is the base one)
            out[f.name] = _blank_column(f.kind, len(frame))
            if coded is not None and out[f.name].dtype == object:  # text: "" in every row (codes of no memory)
                coded[f.name] = np.broadcast_to(np.intp(0), (len(frame),)), np.array([""], dtype=object)
                if fresh is not None:  # (one string object in every row: nothing to compact)
                    fresh.add(f.name)
            continue
        raw_col, reported = _drop_cell_errors(chk.column(f.name, f.kind), f.name, chk)
        if f.kind == "date":
            dates, bad = convert.dates_column(raw_col)
            for pos, v in bad:
                chk.add(f.name, pos, f'{_label(f.name)} "{v}" is not a date')
            out[f.name] = dates.to_numpy()
            blank = np.isnat(out[f.name])
        elif f.kind in NUMBER_KINDS:
            out[f.name] = _number_field(f, raw_col, settings.decimal_separator, chk)
            blank = np.isnan(out[f.name])
        elif f.kind == "bool":
            out[f.name], bad = convert.bools_column(raw_col)
            for pos, v in bad:
                chk.add(f.name, pos, f'{_label(f.name)} "{v}" is not yes/no (是/否)', "warning")
            blank = np.zeros(len(raw_col), dtype=bool)
        else:
            pre = raw.coded.get(f.name)
            if f.kind == "currency":
                codes, texts = _currency_field(f, raw_col, settings.base_currency, chk, pre)
            else:
                codes, texts = _text_field(f, raw_col, chk, pre)
                if f.name == table.key:  # (keys are text fields)
                    key = codes, texts
            out[f.name] = texts[codes]
            if coded is not None:  # kept to the end of validation: half the memory in 32 bits
                coded[f.name] = codes.astype(np.int32) if len(texts) < 2**31 else codes, texts
            if fresh is not None and pre is not None and texts is pre[1]:  # the reader's texts, unchanged
                fresh.add(f.name)
            blank = (texts == "")[codes]
        if f.required and f.name in frame:
            for pos in np.flatnonzero(blank):
                if convert.is_blank(raw_col[pos]) and int(pos) not in reported:  # else reported above
                    chk.add(f.name, int(pos), f"{_label(f.name)} is blank")
    if key is not None:
        _check_duplicates(*key, table.key, chk)
    return pd.DataFrame(out)


def _blank_column(kind: str, n: int) -> np.ndarray:
    """A column the sheet does not have: blank in every row, with nothing to convert or report."""
    if kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[s]")
    if kind in NUMBER_KINDS:
        return np.full(n, np.nan)
    if kind == "bool":
        return np.zeros(n, dtype=bool)
    return np.full(n, "", dtype=object)


def _number_field(f: Field, raw_col: np.ndarray, dec: str | None, chk: _Checker) -> np.ndarray:
    """An amount or number column as float (NaN: blank or unreadable), each bad cell reported."""
    col, bad = convert.amounts_column(raw_col, dec, percent=f.kind == "number")
    for pos, v in bad:
        if convert.is_ambiguous(v, dec):
            chk.add(f.name, pos, f'{_label(f.name)} "{v}" has a comma that may mark decimals; type it as '
                    'digits with a decimal point, or set DecimalSeparator on the Settings sheet to "," '
                    '(1.234,50) or "." (1,234.50)')
        else:
            chk.add(f.name, pos, f'{_label(f.name)} "{v}" is not a number')
    if f.kind in ("money", "int"):
        huge = np.flatnonzero(np.abs(col) >= MAX_AMOUNT)  # (NaN: blank, never huge; infinity is)
        for pos in huge:
            chk.add(f.name, int(pos), f'{_label(f.name)} {convert.plain(raw_col[pos])!r} is beyond what xl-ar handles '
                    f'(up to {MAX_AMOUNT:,.0f}); check the cell')
        if len(huge):
            col = col.copy()
            col[huge] = np.nan
    if f.kind == "int":
        frac = ~np.isnan(col) & (col != np.floor(col))
        for pos in np.flatnonzero(frac):
            chk.add(f.name, int(pos), f'{_label(f.name)} "{convert.plain(raw_col[pos])}" is not a whole number')
    return col


def _text_field(f: Field, raw_col: np.ndarray, chk: _Checker,
                coded: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A text column as (codes, distinct texts): over-long text warned and cut, choices checked.

    Text longer than an Excel cell holds is cut (marked) wherever it is copied; a value of a
    column with choices is matched case-insensitively, else warned about and kept as written.
    ``coded``: the column's distinct cells, when the reader coded them.
    """
    codes, texts = convert.text_codes(raw_col, coded)
    long = np.fromiter(map(len, texts), np.int64, len(texts)) > convert.EXCEL_CELL_CHARS
    if long.any():
        for pos in np.flatnonzero(long[codes]):
            chk.add(f.name, int(pos), f"{_label(f.name)} of {len(texts[codes[pos]]):,} characters is longer than "
                    f"the {convert.EXCEL_CELL_CHARS:,} an Excel cell holds; it is cut (and marked) where xl-ar "
                    "copies it", "warning")
        codes, texts = convert.merge_equal(codes, np.array([convert.cut_cell_text(t) for t in texts], dtype=object))
    if f.choices:
        norm = {c.lower(): c for c in f.choices}
        fixed = np.array([norm.get(t.lower(), t) for t in texts], dtype=object)
        wrong = np.array([v != "" and v not in f.choices for v in fixed], dtype=bool)
        for pos in np.flatnonzero(wrong[codes]):
            chk.add(f.name, int(pos), f'{_label(f.name)} "{texts[codes[pos]]}" is not one of {", ".join(f.choices)}',
                    "warning")
        codes, texts = convert.merge_equal(codes, fixed)
    return codes, texts


def _currency_field(f: Field, raw_col: np.ndarray, base: str, chk: _Checker,
                    coded: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A currency column as (codes, distinct codes of currencies): upper case, blank = ``base``."""
    codes, texts = convert.text_codes(raw_col, coded)
    currencies = np.array([t.upper() if t else base for t in texts], dtype=object)
    unknown = np.array([c not in CURRENCY_EXPONENTS for c in currencies], dtype=bool)
    for pos in np.flatnonzero(unknown[codes]):
        chk.add(f.name, int(pos), f'currency "{texts[codes[pos]]}" is not a known ISO currency code')
    return codes, currencies


def _check_duplicates(codes: np.ndarray, texts: np.ndarray, name: str, chk: _Checker) -> None:
    """Report every row whose (non-blank) key is that of an earlier row, naming the first one.

    Args:
        codes, texts: the key column, coded so that equal texts share one code.
    """
    first = convert.first_positions(codes, len(texts))[codes]
    for pos in np.flatnonzero((first != np.arange(len(codes))) & (texts != "")[codes]):
        chk.add(name, int(pos), f'{_label(name)} "{texts[codes[pos]]}" is a duplicate of row {chk.rows[first[pos]]}')


def _drop_cell_errors(raw_col: np.ndarray, name: str, chk: "_Checker") -> tuple[np.ndarray, set[int]]:
    """Report cells holding an Excel error or an uncalculated formula, then treat them as blank.

    Each is an error (a ``#N/A`` due date must not quietly become "due after the terms").

    Returns:
        The column with those cells blanked, and their positions (not reported again as blank).
    """
    hit = convert.cell_errors(raw_col) if raw_col.dtype == object else ()
    if not len(hit):
        return raw_col, set()
    raw_col = raw_col.copy()
    for pos in hit:
        chk.add(name, int(pos), f"{_label(name)} {raw_col[pos].describe()}")
        raw_col[pos] = None
    return raw_col, {int(p) for p in hit}


def _exponents(frame: pd.DataFrame) -> np.ndarray:
    """Each row's currency exponent (2 for an unknown currency), looked up once per currency.

    ``Series.map`` of a text column looks up every cell (about 0.4 s at a million rows).
    """
    codes, currencies = pd.factorize(frame["currency"].to_numpy(dtype=object))  # text: none missing
    return np.array([CURRENCY_EXPONENTS.get(c, 2) for c in currencies], dtype=np.int64)[codes]


def _minor(frame: pd.DataFrame, col: str) -> np.ndarray:
    exp = frame["exp"].to_numpy() if "exp" in frame else _exponents(frame) if "currency" in frame else 2
    vals = frame[col].to_numpy(dtype=np.float64)
    return np.where(np.isnan(vals), 0, to_minor_array(np.nan_to_num(vals), exp))


def _resolve_customers(frame: pd.DataFrame, chk: _Checker, index: CustomerIndex,
                       coded: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Replace customer names by their IDs (see ``xl_ar.core.names``); warn on ambiguous ones.

    Each distinct reference is resolved once: a million invoices name a few thousand customers.

    Args:
        coded: the column as validation coded it, when it kept the codes (not hashed again).

    Returns:
        (codes, ids): the new column coded by distinct value, ``ids[codes]``.
    """
    if coded is not None and len(coded[0]) == len(frame):
        codes, refs = coded
    else:
        codes, refs = pd.factorize(frame["customer_id"].to_numpy(dtype=object))  # text: none missing
    if not len(frame):
        return codes, refs
    ids, ambiguous = index.resolve(refs)
    frame["customer_id"] = ids[codes]
    candidates = dict(ambiguous)  # distinct reference -> the IDs it matches
    for pos in np.flatnonzero(np.isin(codes, list(candidates))):
        chk.add("customer_id", int(pos), f'customer "{ids[codes[pos]]}" matches several customers '
                f'({", ".join(candidates[codes[pos]])}); write the customer ID', "warning")
    return codes, ids


def _unknown_customers(customer_ids: tuple[np.ndarray, np.ndarray], known: set[str]) -> np.ndarray:
    """Positions of the rows naming a customer (not blank) that is not known.

    Args:
        customer_ids: the rows' customer IDs as (codes, distinct IDs).
        known: the customers known.
    """
    codes, ids = customer_ids
    return np.flatnonzero(np.array([i != "" and i not in known for i in ids], dtype=bool)[codes])


def _check_applies_to(invoices: pd.DataFrame, chk: "_Checker", auto_apply: str, target: np.ndarray) -> None:
    """A credit note's AppliesTo must name an invoice of the same customer and currency
    (``target``: per line, the first invoice row of the number it names, -1 for none)."""
    refs = invoices["applies_to"].to_numpy(dtype=object)
    if not (refs != "").any():
        return
    fallback = "it is applied oldest first" if auto_apply == "oldest" else "it stays unapplied"
    amount = invoices["amount"].to_numpy(dtype=np.float64)
    cust, ccy = invoices["customer_id"].to_numpy(dtype=object), invoices["currency"].to_numpy(dtype=object)
    for pos in np.flatnonzero(refs != "").tolist():
        ref, k = refs[pos], int(target[pos])
        if not amount[pos] < 0:
            chk.add("applies_to", pos, f'only a credit note (a negative amount) applies to another invoice; '
                    f'"{ref}" is ignored', "warning")
        elif k < 0:
            chk.add("applies_to", pos, f'invoice "{ref}" is not on the Invoices sheet; {fallback}', "warning")
        elif (cust[k], ccy[k]) != (cust[pos], ccy[pos]):
            chk.add("applies_to", pos, f'invoice "{ref}" is of customer "{cust[k]}" in {ccy[k]}, '
                    f'not "{cust[pos]}" in {ccy[pos]}; {fallback}', "warning")


def _empty_raw(table: Table) -> RawTable:
    return RawTable(table.sheet, table.sheet, pd.DataFrame({"row": np.zeros(0, np.int64)}), {})


def validate_ledger(raw: Mapping[str, RawTable], settings: Settings, *,
                    keep_codes: bool = False, progress: Step | None = None) -> tuple[Ledger, list[Issue]]:
    """Check and type the ledger's tables.

    Args:
        raw: canonical table name -> RawTable, as read from a workbook. Customers, Invoices
            and Receipts are expected; Activities and Rates are optional.
        settings: the run's settings (base currency fills blank currencies).
        keep_codes: keep the text columns' codes in ``Ledger.text_codes`` for
            :func:`compact_text` (for a caller that calls it).
        progress: reports the tables done (the invoices about half of the time, the receipts
            a quarter).

    Returns:
        (ledger, issues). The ledger is usable when no issue is an error.

    At a million invoices and 0.7 million receipts this takes about 3.2 s of CPU (8.5 s when
    every cell was converted and looked up on its own): columns are converted and checked once
    per distinct value, and the invoices the receipts name are found in one hashing pass.
    """
    issues: list[Issue] = []
    done = progress or Step()
    if "Invoices" not in raw:
        issues.append(Issue("Invoices", 'sheet "Invoices" (发票) is missing'))
    # A ledger without receipts yet, or without a customer list, can still be aged.
    if "Receipts" not in raw:
        issues.append(Issue("Receipts", 'sheet "Receipts" (收款) is missing: no receipts are applied', "warning"))
    if "Customers" not in raw:
        issues.append(Issue("Customers", 'sheet "Customers" (客户) is missing: no names, classes, terms or credit',
                            "warning"))
    get = lambda t: raw.get(t.sheet) or _empty_raw(t)  # noqa: E731

    cust_raw, inv_raw, rec_raw, act_raw = get(CUSTOMERS), get(INVOICES), get(RECEIPTS), get(ACTIVITIES)
    # The text columns' codes, kept for compact_text when asked for (none made otherwise).
    coded = {t: {} for t in ("customers", "invoices", "receipts")} if keep_codes else None
    codes_of = (lambda t: coded[t]) if coded is not None else (lambda t: None)  # noqa: E731
    fresh: dict[str, set[str]] = {t: set() for t in ("customers", "invoices", "receipts")}
    customers = _typed_frame(cust_raw, CUSTOMERS, settings, issues, "Customers" in raw, codes_of("customers"),
                             fresh["customers"])
    customers["currency"] = settings.base_currency
    customers["credit_limit_minor"] = _minor(customers, "credit_limit")
    cust_chk = _Checker(cust_raw, issues)
    issues += check_customer_terms(customers, lambda name, pos: cust_chk.where(name, pos))
    invoices = _typed_frame(inv_raw, INVOICES, settings, issues, "Invoices" in raw, codes_of("invoices"),
                            fresh["invoices"])
    done(0.45)
    receipts = _typed_frame(rec_raw, RECEIPTS, settings, issues, "Receipts" in raw, codes_of("receipts"),
                            fresh["receipts"])
    done(0.7)
    activities = _typed_frame(act_raw, ACTIVITIES, settings, issues, "Activities" in raw)
    activities["currency"] = settings.base_currency
    activities["promise_amount_minor"] = _minor(activities, "promise_amount")

    inv_chk, rec_chk = _Checker(inv_raw, issues), _Checker(rec_raw, issues)
    index = CustomerIndex(customers)
    inv_ids, rec_ids, _ = [_resolve_customers(frame, chk, index, (coded or {}).get(table, {}).get("customer_id"))
                           for table, frame, chk in (("invoices", invoices, inv_chk), ("receipts", receipts, rec_chk),
                                                     ("activities", activities, _Checker(act_raw, issues)))]
    if coded is not None:
        for table, (codes, ids) in (("invoices", inv_ids), ("receipts", rec_ids)):
            coded[table]["customer_id"] = codes.astype(np.int32), ids  # (a few thousand customers)
    # An ambiguous name is reported as such, not again as unknown.
    known_customers = (set(customers["customer_id"]) | index.ambiguous) - {""}
    done(0.8)

    # Invoices: due date from the customer's terms when blank; due before invoice date is an error.
    terms = dict(zip(customers["customer_id"], customers["terms_days"]))
    # A credit note needs no due date: it is applied on its date.
    blank_due = invoices["due_date"].isna() & invoices["invoice_date"].notna() & (invoices["amount"] > 0)
    raw_due = inv_chk.column("due_date", "date")
    for pos in np.flatnonzero(blank_due.to_numpy()):
        if not convert.is_blank(raw_due[pos]):
            continue  # a bad date, already reported
        t = terms.get(invoices["customer_id"].iat[pos])
        days = 0 if t is None or t != t else int(t)
        invoices.loc[invoices.index[pos], "due_date"] = invoices["invoice_date"].iat[pos] + pd.Timedelta(days=days)
        inv_chk.add("due_date", int(pos), f"due date is blank; using invoice date + {days} days of terms", "warning")
    before = (invoices["due_date"] < invoices["invoice_date"]).to_numpy()
    for pos in np.flatnonzero(before):
        inv_chk.add("due_date", int(pos), f'due date {invoices["due_date"].iat[pos]:%Y-%m-%d} is before the invoice date {invoices["invoice_date"].iat[pos]:%Y-%m-%d}')
    for pos in np.flatnonzero((invoices["amount"] == 0).to_numpy()):
        inv_chk.add("amount", int(pos), "amount is zero", "warning")
    if known_customers or len(customers):
        for pos in _unknown_customers(inv_ids, known_customers):
            inv_chk.add("customer_id", int(pos), f'customer "{invoices["customer_id"].iat[pos]}" is not on the Customers sheet', "warning")

    # Receipts: positive, known customer, named invoice exists and belongs to that customer.
    for pos in np.flatnonzero((receipts["amount"] <= 0).to_numpy()):
        rec_chk.add("amount", int(pos), "receipt amount must be positive (record a refund as a negative invoice line)")
    if known_customers or len(customers):
        for pos in _unknown_customers(rec_ids, known_customers):
            rec_chk.add("customer_id", int(pos), f'customer "{receipts["customer_id"].iat[pos]}" is not on the Customers sheet', "warning")
    named = NamedInvoices(invoices, receipts)
    done(0.9)
    rec_cust = receipts["customer_id"].to_numpy(dtype=object)
    owner = np.full(len(receipts), None, dtype=object)  # the customer of the last invoice of that number
    owner[named.last >= 0] = invoices["customer_id"].to_numpy(dtype=object)[named.last[named.last >= 0]]
    for pos in np.flatnonzero((named.numbers != "") & (owner != rec_cust)):
        inv_no, cust = named.numbers[pos], rec_cust[pos]
        if named.last[pos] < 0:
            rec_chk.add("invoice_no", int(pos), f'invoice "{inv_no}" is not on the Invoices sheet; the receipt is applied oldest first', "warning")
        else:
            rec_chk.add("invoice_no", int(pos), f'invoice "{inv_no}" belongs to customer "{owner[pos]}", not "{cust}"; the receipt is applied oldest first', "warning")

    for frame, chk in ((invoices, inv_chk), (receipts, rec_chk)):
        _check_amount_signs(frame, chk)
    _check_named_currency(receipts, rec_chk, invoices, inv_chk, named)
    _check_applies_to(invoices, inv_chk, settings.auto_apply, named.applies)

    for frame in (invoices, receipts):
        frame["exp"] = _exponents(frame)
        frame["amount_minor"] = _minor(frame, "amount")

    act_chk = _Checker(act_raw, issues)
    writeoffs, wo_issues = settle_writeoffs(activities, invoices, receipts,
                                            lambda name, pos: act_chk.where(name, pos),
                                            functools.partial(allocate_receipts, auto_apply=settings.auto_apply))
    issues += wo_issues

    rates = None
    if "Rates" in raw:
        rates = _typed_frame(raw["Rates"], RATES, settings, issues)
        rates["series"] = rates["series"].str.lower()

    fx_rates = None
    if "FxRates" in raw:
        fx_rates = _typed_frame(raw["FxRates"], FX_RATES, settings, issues)
        fx_chk = _Checker(raw["FxRates"], issues)
        blank = np.array([convert.is_blank(v) for v in fx_chk.column("currency")], dtype=bool)
        issues += check_fx_rates(fx_rates, settings.base_currency, fx_chk.where, blank)

    orders = None
    if "Orders" in raw:
        orders = _typed_frame(raw["Orders"], ORDERS, settings, issues)
        _resolve_customers(orders, _Checker(raw["Orders"], issues), index)
        orders["exp"] = _exponents(orders)
        orders["amount_minor"] = _minor(orders, "amount")

    places = {
        t: (r.sheet, dict(r.columns)) for t, r in raw.items()
    }
    groups = None
    if coded is not None:  # the groups from the codes of the columns they are made of
        groups = GroupRows(invoices, receipts, *coded_groups(
            *((coded[t]["customer_id"], coded[t]["currency"]) for t in ("invoices", "receipts"))))
    ledger = Ledger(customers, invoices, receipts, activities, rates, places, orders, writeoffs, fx_rates,
                    {(t, c): v for t, cols in (coded or {}).items() for c, v in cols.items()}, named.kept(), groups,
                    frozenset((t, c) for t, cols in fresh.items() for c in cols))
    done(1.0)
    return ledger, sorted(issues, key=_issue_order(raw))


def _check_amount_signs(frame: pd.DataFrame, chk: _Checker) -> None:
    """Warn when an amount typed with a currency sign ("$1,000") disagrees with its Currency cell."""
    raw = chk.column("amount", "money")
    if not len(frame) or "currency" not in frame:
        return
    currency = frame["currency"].to_numpy(dtype=object)
    # Only a text cell carries a sign; a ledger of number cells has nothing to look at.
    for pos in convert.text_positions(raw):
        v, ccy = raw[pos], currency[pos]
        mark = convert.amount_currencies(v)
        if mark is not None and ccy not in mark[1]:
            chk.add("amount", pos, f'amount "{v}" is written with "{mark[0]}" but its currency '
                    f"({chk.where('currency', pos)}) is {ccy}; the amount is taken in {ccy}: check which is "
                    "right", "warning")


def _check_named_currency(receipts: pd.DataFrame, rec_chk: _Checker, invoices: pd.DataFrame,
                          inv_chk: _Checker, named: NamedInvoices) -> None:
    """Warn when a receipt names an invoice of its customer in another currency."""
    if not len(receipts) or not len(invoices):
        return
    hit = np.flatnonzero(named.first >= 0)  # a number names its first row
    i = named.first[hit]
    inv_ccy = invoices["currency"].to_numpy(dtype=object)
    rec_ccy = receipts["currency"].to_numpy(dtype=object)
    same_cust = invoices["customer_id"].to_numpy(dtype=object)[i] == receipts["customer_id"].to_numpy(dtype=object)[hit]
    other_ccy = inv_ccy[i] != rec_ccy[hit]
    for pos, k in zip(hit[same_cust & other_ccy].tolist(), i[same_cust & other_ccy].tolist()):
        no, ccy = named.numbers[pos], rec_ccy[pos]
        rec_chk.add("currency", pos, f'receipt in {ccy} names invoice "{no}" in {inv_ccy[k]} '
                    f"({inv_chk.where('currency', k)}); it does not pay that invoice: it goes to the customer's "
                    f"open {ccy} invoices oldest first, or stays unapplied (correct the currency, or record the "
                    "receipt converted)", "warning")


def _issue_order(raw: Mapping[str, RawTable]):
    """Sort key: sheet (workbook order of the ledger tables), then row, then column."""
    import re

    sheets = {r.sheet: k for k, r in enumerate(raw.values())}
    ref = re.compile(r"^(.*?)(?:!([A-Z]*)(\d*)(?::\d+)?)?$")

    def key(issue: Issue):
        m = ref.match(issue.where)
        sheet, col, row = m.group(1), m.group(2) or "", m.group(3) or "0"
        return (sheets.get(sheet, len(sheets)), int(row), len(col), col)

    return key


def place(ledger: Ledger, table: str, field_name: str, row: int) -> str:
    """The Excel reference of one cell of the ledger, e.g. ``Invoices!E17``."""
    sheet, cols = ledger.places.get(table, (table, {}))
    return f"{sheet}!{cols.get(field_name, '?')}{row}"

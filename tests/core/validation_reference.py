"""Validation of the raw ledger tables as it was before it converted each distinct value once,
kept as the reference the program must equal exactly: the same frames, the same issues in the
same order (tests/core/test_validation_fast.py). Not used by the program. The helpers that did
not change are the program's own."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from xl_ar.core import convert
from xl_ar.core.allocation import allocate_receipts
from xl_ar.core.convert import CellError, _strip, _type_of, _types, convert_column, parse_amount, parse_date, parse_text
from xl_ar.core.fx import check_fx_rates
from xl_ar.core.issues import Issue
from xl_ar.core.ledger import (Ledger, RawTable, _Checker, _drop_cell_errors, _empty_raw,
                               _issue_order, _label)
from xl_ar.core.money import CURRENCY_EXPONENTS, MAX_AMOUNT, to_minor_array
from xl_ar.core.names import CustomerIndex
from xl_ar.core.schema import ACTIVITIES, CUSTOMERS, FX_RATES, INVOICES, ORDERS, RATES, RECEIPTS, Table
from xl_ar.core.settings import Settings
from xl_ar.core.terms import check_customer_terms
from xl_ar.core.writeoffs import settle_writeoffs

def _typed_frame(raw: RawTable, table: Table, settings: Settings, issues: list[Issue],
                 present: bool = True) -> pd.DataFrame:
    """Convert every declared column of one table, reporting bad cells and blank required ones."""
    chk = _Checker(raw, issues)
    frame = raw.frame
    for f in table.fields:
        if present and f.required and f.name not in frame:
            issues.append(Issue(raw.sheet, f'required column "{f.header}" is missing'))
    out = pd.DataFrame({"row": chk.rows.astype(np.int64)})
    for f in table.fields:
        raw_col = chk.column(f.name)
        present = f.name in frame
        raw_col, reported = _drop_cell_errors(raw_col, f.name, chk)
        if f.kind == "date":
            col, bad = dates_column(raw_col)
            for pos, v in bad:
                chk.add(f.name, pos, f'{_label(f.name)} "{v}" is not a date')
            out[f.name] = col.to_numpy()
        elif f.kind in ("money", "number", "int"):
            dec = settings.decimal_separator
            col, bad = amounts_column(raw_col, dec)
            if f.kind == "number":
                parsed, bad = convert_column(raw_col, lambda v: convert.parse_number(v, dec))
                col = np.array([np.nan if p is None else p for p in parsed], dtype=np.float64)
            for pos, v in bad:
                if convert.is_ambiguous(v, dec):
                    chk.add(f.name, pos, f'{_label(f.name)} "{v}" has a comma that may mark decimals; type it as '
                            'digits with a decimal point, or set DecimalSeparator on the Settings sheet to "," '
                            '(1.234,50) or "." (1,234.50)')
                else:
                    chk.add(f.name, pos, f'{_label(f.name)} "{v}" is not a number')
            if f.kind in ("money", "int"):
                huge = np.flatnonzero(np.abs(np.nan_to_num(col)) >= MAX_AMOUNT)
                for pos in huge:
                    # (a numpy scalar is shown as its Python equal: as the user typed it)
                    chk.add(f.name, int(pos), f'{_label(f.name)} {convert.plain(raw_col[pos])!r} is beyond what xl-ar handles '
                            f'(up to {MAX_AMOUNT:,.0f}); check the cell')
                if len(huge):
                    col = col.copy()
                    col[huge] = np.nan
            if f.kind == "int":
                frac = ~np.isnan(col) & (col != np.floor(np.nan_to_num(col)))
                for pos in np.flatnonzero(frac):
                    chk.add(f.name, int(pos), f'{_label(f.name)} "{convert.plain(raw_col[pos])}" is not a whole number')
            out[f.name] = col
        elif f.kind == "bool":
            parsed, bad = convert_column(raw_col, convert.parse_bool)
            for pos, v in bad:
                chk.add(f.name, pos, f'{_label(f.name)} "{v}" is not yes/no (是/否)', "warning")
            out[f.name] = np.array([bool(p) for p in parsed], dtype=bool)
        elif f.kind == "currency":
            text = text_column(raw_col)
            codes = map_distinct(text, lambda t: t.upper() if t else settings.base_currency)
            known = pd.Series(codes).isin(CURRENCY_EXPONENTS.keys()).to_numpy()
            for pos in np.flatnonzero(~known):
                chk.add(f.name, int(pos), f'currency "{text[pos]}" is not a known ISO currency code')
            out[f.name] = codes
        else:
            out[f.name] = text_column(raw_col)
            _cut_long_text(out, f.name, chk)
            if f.choices and present:
                norm = {c.lower(): c for c in f.choices}
                vals = out[f.name].to_numpy()
                fixed = map_distinct(vals, lambda v: norm.get(v.lower(), v))
                for pos in np.flatnonzero((fixed != "") & ~np.isin(fixed, list(f.choices))):
                    chk.add(f.name, int(pos), f'{_label(f.name)} "{vals[pos]}" is not one of {", ".join(f.choices)}', "warning")
                out[f.name] = fixed
        if f.required and present:
            blank = out[f.name].isna().to_numpy() if f.kind in ("date", "money", "number", "int") else (out[f.name] == "").to_numpy()
            for pos in np.flatnonzero(blank):
                if convert.is_blank(raw_col[pos]) and int(pos) not in reported:  # else reported above
                    chk.add(f.name, int(pos), f"{_label(f.name)} is blank")
    if table.key and table.key in frame:
        keys = out[table.key]
        dup = keys.duplicated(keep="first") & (keys != "")
        if dup.any():
            first_pos = {k: i for i, k in reversed(list(enumerate(keys)))}
            for pos in np.flatnonzero(dup.to_numpy()):
                k = keys.iat[pos]
                chk.add(table.key, int(pos), f'{_label(table.key)} "{k}" is a duplicate of row {chk.rows[first_pos[k]]}')
    return out


def _cut_long_text(out: pd.DataFrame, name: str, chk: "_Checker") -> None:
    """Text longer than an Excel cell holds: warned, and cut (marked) wherever it is copied."""
    vals = out[name].to_numpy()
    for pos in np.flatnonzero(np.fromiter(map(len, vals), np.int64, len(vals)) > convert.EXCEL_CELL_CHARS):
        chk.add(name, int(pos), f"{_label(name)} of {len(vals[pos]):,} characters is longer than the "
                f"{convert.EXCEL_CELL_CHARS:,} an Excel cell holds; it is cut (and marked) where xl-ar copies it",
                "warning")
        out.loc[out.index[pos], name] = convert.cut_cell_text(vals[pos])


def _minor(frame: pd.DataFrame, col: str) -> np.ndarray:
    exp = frame["currency"].map(CURRENCY_EXPONENTS).fillna(2).to_numpy(dtype=np.int64) if "currency" in frame else 2
    vals = frame[col].to_numpy(dtype=np.float64)
    return np.where(np.isnan(vals), 0, to_minor_array(np.nan_to_num(vals), exp))


def _resolve_customers(frame: pd.DataFrame, chk: _Checker, index: CustomerIndex) -> None:
    """Replace customer names by their IDs (see ``xl_ar.core.names``); warn on ambiguous ones."""
    if not len(frame):
        return
    ids, ambiguous = index.resolve(frame["customer_id"].to_numpy(dtype=object))
    frame["customer_id"] = ids
    for pos, hits in ambiguous:
        chk.add("customer_id", pos, f'customer "{ids[pos]}" matches several customers ({", ".join(hits)}); '
                "write the customer ID", "warning")


def validate_ledger(raw: Mapping[str, RawTable], settings: Settings) -> tuple[Ledger, list[Issue]]:
    """Check and type the ledger's tables.

    Args:
        raw: canonical table name -> RawTable, as read from a workbook. Customers, Invoices
            and Receipts are expected; Activities and Rates are optional.
        settings: the run's settings (base currency fills blank currencies).

    Returns:
        (ledger, issues). The ledger is usable when no issue is an error.
    """
    issues: list[Issue] = []
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
    customers = _typed_frame(cust_raw, CUSTOMERS, settings, issues, "Customers" in raw)
    customers["currency"] = settings.base_currency
    customers["credit_limit_minor"] = _minor(customers, "credit_limit")
    cust_chk = _Checker(cust_raw, issues)
    issues += check_customer_terms(customers, lambda name, pos: cust_chk.where(name, pos))
    invoices = _typed_frame(inv_raw, INVOICES, settings, issues, "Invoices" in raw)
    receipts = _typed_frame(rec_raw, RECEIPTS, settings, issues, "Receipts" in raw)
    activities = _typed_frame(act_raw, ACTIVITIES, settings, issues, "Activities" in raw)
    activities["currency"] = settings.base_currency
    activities["promise_amount_minor"] = _minor(activities, "promise_amount")

    inv_chk, rec_chk = _Checker(inv_raw, issues), _Checker(rec_raw, issues)
    index = CustomerIndex(customers)
    for frame, chk in ((invoices, inv_chk), (receipts, rec_chk), (activities, _Checker(act_raw, issues))):
        _resolve_customers(frame, chk, index)
    # An ambiguous name is reported as such, not again as unknown.
    known_customers = (set(customers["customer_id"]) | index.ambiguous) - {""}

    # Invoices: due date from the customer's terms when blank; due before invoice date is an error.
    terms = dict(zip(customers["customer_id"], customers["terms_days"]))
    # A credit note needs no due date: it is applied on its date.
    blank_due = invoices["due_date"].isna() & invoices["invoice_date"].notna() & (invoices["amount"] > 0)
    raw_due = inv_chk.column("due_date")
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
        for pos in np.flatnonzero(~invoices["customer_id"].isin(known_customers).to_numpy() & (invoices["customer_id"] != "").to_numpy()):
            inv_chk.add("customer_id", int(pos), f'customer "{invoices["customer_id"].iat[pos]}" is not on the Customers sheet', "warning")

    # Receipts: positive, known customer, named invoice exists and belongs to that customer.
    for pos in np.flatnonzero((receipts["amount"] <= 0).to_numpy()):
        rec_chk.add("amount", int(pos), "receipt amount must be positive (record a refund as a negative invoice line)")
    if known_customers or len(customers):
        for pos in np.flatnonzero(~receipts["customer_id"].isin(known_customers).to_numpy() & (receipts["customer_id"] != "").to_numpy()):
            rec_chk.add("customer_id", int(pos), f'customer "{receipts["customer_id"].iat[pos]}" is not on the Customers sheet', "warning")
    # Through object arrays: iterating a pandas string column goes cell by cell in Python.
    owner = dict(zip(invoices["invoice_no"].to_numpy(dtype=object).tolist(),
                     invoices["customer_id"].to_numpy(dtype=object).tolist()))
    named = receipts["invoice_no"].to_numpy()
    rec_cust = receipts["customer_id"].to_numpy()
    named_owner = np.array([owner.get(x) for x in named], dtype=object)
    for pos in np.flatnonzero((named != "") & (named_owner != rec_cust)):
        inv_no, cust = named[pos], rec_cust[pos]
        if inv_no not in owner:
            rec_chk.add("invoice_no", int(pos), f'invoice "{inv_no}" is not on the Invoices sheet; the receipt is applied oldest first', "warning")
        elif owner[inv_no] != cust:
            rec_chk.add("invoice_no", int(pos), f'invoice "{inv_no}" belongs to customer "{owner[inv_no]}", not "{cust}"; the receipt is applied oldest first', "warning")

    for frame, chk in ((invoices, inv_chk), (receipts, rec_chk)):
        _check_amount_signs(frame, chk)
    _check_named_currency(receipts, rec_chk, invoices, inv_chk)
    _check_applies_to(invoices, inv_chk, settings.auto_apply)

    for frame in (invoices, receipts):
        frame["exp"] = frame["currency"].map(CURRENCY_EXPONENTS).fillna(2).astype(np.int64)
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
        orders["exp"] = orders["currency"].map(CURRENCY_EXPONENTS).fillna(2).astype(np.int64)
        orders["amount_minor"] = _minor(orders, "amount")

    places = {
        t: (r.sheet, dict(r.columns)) for t, r in raw.items()
    }
    ledger = Ledger(customers, invoices, receipts, activities, rates, places, orders, writeoffs, fx_rates)
    return ledger, sorted(issues, key=_issue_order(raw))


def _check_amount_signs(frame: pd.DataFrame, chk: _Checker) -> None:
    """Warn when an amount typed with a currency sign ("$1,000") disagrees with its Currency cell."""
    raw = chk.column("amount")
    if not len(frame) or "currency" not in frame:
        return
    currency = frame["currency"].to_numpy(dtype=object)
    # Only a text cell carries a sign; a ledger of number cells has nothing to look at.
    for pos in np.flatnonzero([isinstance(v, str) for v in raw]):
        v, ccy = raw[pos], currency[pos]
        mark = convert.amount_currencies(v)
        if mark is not None and ccy not in mark[1]:
            chk.add("amount", pos, f'amount "{v}" is written with "{mark[0]}" but its currency '
                    f"({chk.where('currency', pos)}) is {ccy}; the amount is taken in {ccy}: check which is "
                    "right", "warning")


def _check_named_currency(receipts: pd.DataFrame, rec_chk: _Checker, invoices: pd.DataFrame,
                          inv_chk: _Checker) -> None:
    """Warn when a receipt names an invoice of its customer in another currency."""
    if not len(receipts) or not len(invoices):
        return
    numbers = pd.Series(invoices["invoice_no"].to_numpy(dtype=object))
    first = pd.Series(np.arange(len(numbers)), index=numbers)
    first = first[~first.index.duplicated(keep="first") & (first.index != "")]  # a number names its first row
    named = receipts["invoice_no"].to_numpy(dtype=object)
    at = first.reindex(named).to_numpy()  # NaN: names no invoice (or none at all)
    hit = np.flatnonzero(~np.isnan(at))
    i = at[hit].astype(np.int64)
    inv_ccy = invoices["currency"].to_numpy(dtype=object)
    rec_ccy = receipts["currency"].to_numpy(dtype=object)
    same_cust = invoices["customer_id"].to_numpy(dtype=object)[i] == receipts["customer_id"].to_numpy(dtype=object)[hit]
    other_ccy = inv_ccy[i] != rec_ccy[hit]
    for pos, k in zip(hit[same_cust & other_ccy].tolist(), i[same_cust & other_ccy].tolist()):
        no, ccy = named[pos], rec_ccy[pos]
        rec_chk.add("currency", pos, f'receipt in {ccy} names invoice "{no}" in {inv_ccy[k]} '
                    f"({inv_chk.where('currency', k)}); it does not pay that invoice: it goes to the customer's "
                    f"open {ccy} invoices oldest first, or stays unapplied (correct the currency, or record the "
                    "receipt converted)", "warning")


def dates_column(values: np.ndarray) -> tuple[pd.Series, list[tuple[int, Any]]]:
    """Convert a column of date cells to ``datetime64[s]``; NaT for blanks and failures."""
    arr = np.asarray(values, dtype=object)
    if len(arr) and all(type(v) is dt.datetime or type(v) is dt.date for v in arr[: min(len(arr), 64)]):
        # Clean reader output: let pandas convert the whole array at once.
        try:
            if _types(arr) <= {dt.datetime, dt.date}:
                s = pd.to_datetime(pd.Series(arr), errors="raise").dt.normalize()
                return s.astype("datetime64[s]"), []
        except (ValueError, TypeError, OverflowError):
            pass
    parsed, bad = convert_column(arr, parse_date)
    s = pd.Series(pd.to_datetime(pd.Series(parsed, dtype=object), errors="coerce"))
    return s.astype("datetime64[s]"), bad


def amounts_column(values: np.ndarray, decimal: str | None = None) -> tuple[np.ndarray, list[tuple[int, Any]]]:
    """Convert a column of amount cells to float64 major units; NaN for blanks and failures.

    Args:
        values: the cells.
        decimal: the workbook's decimal separator, when set (see :func:`parse_amount`).
    """
    arr = np.asarray(values, dtype=object)
    try:
        f = arr.astype(np.float64)  # fast path: every cell already numeric
        if not any(isinstance(v, (bool, str)) for v in arr[: min(len(arr), 64)]) and np.isfinite(
            f[~np.isnan(f)]
        ).all():
            if not any(issubclass(t, (bool, str)) for t in _types(arr)):
                return f, []
    except (ValueError, TypeError):
        pass
    parsed, bad = convert_column(arr, lambda v: parse_amount(v, decimal))
    return np.array([np.nan if p is None else p for p in parsed], dtype=np.float64), bad


def cell_errors(values: np.ndarray) -> np.ndarray:
    """Positions of the :class:`CellError` cells of a column."""
    arr = np.asarray(values, dtype=object)
    if not len(arr) or CellError not in _types(arr):
        return np.zeros(0, np.int64)
    return np.flatnonzero(_type_of(arr) == CellError)


def text_column(values: np.ndarray) -> np.ndarray:
    """Convert a column to stripped text ("" for blank), as :func:`parse_text` does per cell."""
    arr = np.asarray(values, dtype=object)
    out = np.empty(len(arr), dtype=object)
    types = _type_of(arr) if len(arr) else np.zeros(0, object)
    is_str = types == str if len(arr) else np.zeros(0, bool)
    if is_str.any():  # the common case, done at once
        out[is_str] = _strip(arr[is_str])
    blank = types == type(None) if len(arr) else is_str  # an absent column is all None
    out[blank] = ""
    rest = np.flatnonzero(~is_str & ~blank)
    if len(rest):
        # The others are mostly blanks (a column the sheet does not have is all None): convert
        # each distinct value once. Unhashable cells (none come from a reader) go one by one.
        memo: dict[Any, str] = {}
        for i in rest.tolist():
            v = arr[i]
            key = (type(v), v)
            try:
                t = memo.get(key)
                if t is None:
                    t = memo[key] = parse_text(v)
            except TypeError:
                t = parse_text(v)
            out[i] = t
    if len(out) > 256:
        # One object per distinct text: a reader makes a new string for every cell, and a column
        # of repeated values (currencies, customer IDs, owners) would hold a million copies.
        out = map_distinct(out)
    return out


def map_distinct(values: Any, fn: Callable[[Any], Any] | None = None) -> np.ndarray:
    """``fn`` of each distinct value, computed once; equal values then share one object.

    Args:
        values: a column (a missing value is one distinct value like any other).
        fn: what to make of each distinct value (None: the value itself).

    Returns:
        An object array aligned with ``values``.
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    mapped = np.empty(len(uniques), dtype=object)
    mapped[:] = list(uniques) if fn is None else [fn(u) for u in uniques]
    return mapped[codes]


def _check_applies_to(invoices: pd.DataFrame, chk: _Checker, auto_apply: str) -> None:
    """A credit note's AppliesTo must name an invoice of the same customer and currency."""
    refs = invoices["applies_to"].to_numpy(dtype=object)
    if not (refs != "").any():
        return
    fallback = "it is applied oldest first" if auto_apply == "oldest" else "it stays unapplied"
    first = ~invoices["invoice_no"].duplicated().to_numpy()
    key = {no: (c, k) for no, c, k in zip(invoices["invoice_no"][first], invoices["customer_id"][first],
                                          invoices["currency"][first])}
    amount = invoices["amount"].to_numpy(dtype=np.float64)
    for pos in np.flatnonzero(refs != ""):
        ref, own = refs[pos], (invoices["customer_id"].iat[pos], invoices["currency"].iat[pos])
        if not amount[pos] < 0:
            chk.add("applies_to", int(pos), f'only a credit note (a negative amount) applies to another invoice; '
                    f'"{ref}" is ignored', "warning")
        elif ref not in key:
            chk.add("applies_to", int(pos), f'invoice "{ref}" is not on the Invoices sheet; {fallback}', "warning")
        elif key[ref] != own:
            chk.add("applies_to", int(pos), f'invoice "{ref}" is of customer "{key[ref][0]}" in {key[ref][1]}, '
                    f'not "{own[0]}" in {own[1]}; {fallback}', "warning")

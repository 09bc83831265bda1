"""The Collections and Legal sheets' rows, built from column lists, are the rows the per-row
pandas builders gave (kept below as the reference), on random work lists and checklists.

Compared as rows and as the bytes the renderer makes of them (NaN is not equal to itself).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.book.legal import _T as _LT
from xl_ar.book.legal import legal_rows
from xl_ar.book.render import render_sheet
from xl_ar.book.reports import _T as _RT
from xl_ar.book.reports import _date, _money, _warning_layout, collections_rows
from xl_ar.book.sheetxml import col_letter
from xl_ar.core.evidence import ITEM_LABELS, STATUS_LABELS, all_checklist_lines
from xl_ar.core.money import to_major
from xl_ar.core.stages import CHANNEL_LABELS

STYLES = {None: 0, "title": 1, "header": 2, "money": 3, "date": 4, "late": 5, "integer": 6, "bold": 7, "subheader": 8}


# --------------------------------------------------------------------------- the references (as they were)

def reference_collections_rows(worklist: pd.DataFrame, lang: str, as_of: dt.date | None = None, days_ahead: int = 7) -> list[list]:
    """The Collections sheet: a title, a header (row 2) and one row per work-list row.

    Args:
        worklist: :func:`xl_ar.core.worklist.collections_worklist`.
        lang: "zh" or "en".
        as_of: the as-of date, for the title.
        days_ahead: the work list's horizon, for the title.

    Returns:
        Rows from A1; cells are values or ``(value, style name)``.
    """
    t, zh = _RT[lang], lang == "zh"
    title = t["c_title"].format(as_of=f"{as_of:%Y-%m-%d}" if as_of else "", days=days_ahead)
    rows: list[list] = [[(title, "title")], [(h, "header") for h in t["c_head"]]]
    for w in worklist.to_dict("records"):
        exp, late = w["exp"], int(w["oldest_days_late"])
        rows.append([
            (w["owner_zh"] if zh else w["owner"]) or t["no_owner"], w["customer_id"], w["name"], w["class"],
            w["currency"], w["stage_label_zh"] if zh else w["stage_label"], _money(w["overdue_minor"], exp),
            # Days late only for an overdue item; one not yet due shows its days to the due date
            # in its own column (0 = due today) instead of a negative "days late".
            _money(w["due_soon_minor"], exp), w["oldest_invoice"], (late, "late") if late > 0 else None,
            None if late > 0 else (-late, "integer"),
            _money(w["late_fee_minor"], exp), _date(w["promise_date"]), _money(w["promise_minor"], exp),
            (int(w["broken_promises"]), "integer") if w["broken_promises"] else None, _date(w["next_action_date"]),
            w["next_action_zh"] if zh else w["next_action"],
            CHANNEL_LABELS.get(w["channel"], w["channel"]) if zh else w["channel"], w["account_manager"],
        ])
    if worklist.empty:
        rows.append([t["none"]])
    return rows


def reference_legal_rows(legal: pd.DataFrame, lang: str, as_of: dt.date | None) -> list[list]:
    """The Legal sheet's rows: a title, a header (row 2), then one row per case and item.

    Args:
        legal: :func:`xl_ar.core.evidence.evidence_checklist`.
        lang: "zh" or "en".
        as_of: the as-of date, for the title.

    Returns:
        Rows from A1; cells are values or ``(value, style name)``.
    """
    t = _LT[lang if lang in _LT else "en"]
    rows: list[list] = [[(t["title"].format(as_of=f"{as_of:%Y-%m-%d}" if as_of else ""), "title")],
                        [(h, "header") for h in t["head"]]]
    names = dict(zip(legal["customer_id"][::-1], legal["name"][::-1]))  # each case's first name
    for cid, lines in all_checklist_lines(legal, lang).items():
        name = str(names[cid])
        for k, (item, status, found, missing, lacking) in enumerate(lines):
            rows.append([cid if k == 0 else None, name if k == 0 else None, item,
                         (status, "late") if lacking else status, found or None, missing or None])
    if legal.empty:
        rows.append([t["none"]])
    return rows



def reference_warning_layout(table: pd.DataFrame, lang: str, as_of: dt.date | None) -> tuple[list[list], list[str]]:
    """The Warnings sheet's rows and merged header cells: an amount block and a count block."""
    t, zh = _RT[lang], lang == "zh"
    classes = list(dict.fromkeys(table["class"]))
    amounts = table.drop_duplicates("amount_band").sort_values("amount_band")
    a_labels = amounts["amount_label_zh" if zh else "amount_label"].tolist()
    bands = table.drop_duplicates("band").sort_values("band")
    ccy = table["currency"].iat[0] if len(table) else ""
    exp = int(table["exp"].iat[0]) if len(table) else 2
    title = t["w_title"].format(as_of=f"{as_of:%Y-%m-%d}" if as_of else "", ccy=ccy)
    rows: list[list] = [[(title, "title")]]
    merged: list[str] = []
    width = 1 + len(classes) * len(a_labels)
    cube = table.set_index(["band", "class", "amount_band"])
    for block, col, cell in (("w_amount", "amount_minor", lambda v: _money(v, exp)),
                             ("w_count", "count", lambda v: (int(v), "integer"))):
        rows += [[], [(t[block], "bold")]]
        top = len(rows) + 1  # the 1-based row of the class header
        head = [(t["w_band"], "header")]
        for c in classes:
            head += [(t["class"].format(c=c), "header")] + [("", "header")] * (len(a_labels) - 1)
            if len(a_labels) > 1:
                merged.append(f"{col_letter(len(head) - len(a_labels) + 1)}{top}:{col_letter(len(head))}{top}")
        rows.append(head + [(t["total"], "header")])
        rows.append([("", "subheader")] + [(a, "subheader") for _ in classes for a in a_labels] + [("", "subheader")])
        merged += [f"A{top}:A{top + 1}", f"{col_letter(width + 1)}{top}:{col_letter(width + 1)}{top + 1}"]
        for b in bands.itertuples(index=False):
            values = [int(cube.at[(b.band, c, a), col]) for c in classes for a in amounts["amount_band"]]
            label = b.band_label_zh if zh else b.band_label
            rows.append([(label, "late" if b.overdue else None), *[cell(v) for v in values], cell(sum(values))])
        totals = [int(table[(table["class"] == c) & (table["amount_band"] == a)][col].sum())
                  for c in classes for a in amounts["amount_band"]]
        rows.append([(t["total"], "bold"), *[cell(v) for v in totals], cell(sum(totals))])
    return rows, merged


# --------------------------------------------------------------------------- random frames

TEXT = st.text(alphabet=st.sampled_from(list("ab &<客户")), max_size=6)
OPT_TEXT = st.one_of(TEXT, st.none())
DAY = st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2030, 12, 31)))
MINOR = st.integers(-10**12, 10**12)
WORK_COLUMNS = ["owner", "owner_zh", "customer_id", "name", "class", "currency", "exp", "stage_label", "stage_label_zh",
                "overdue_minor", "due_soon_minor", "oldest_invoice", "oldest_days_late", "late_fee_minor",
                "promise_date", "promise_minor", "broken_promises", "next_action", "next_action_zh", "channel",
                "next_action_date", "account_manager"]
WORK_ROW = st.fixed_dictionaries({
    "owner": OPT_TEXT, "owner_zh": OPT_TEXT, "customer_id": TEXT, "name": OPT_TEXT, "class": st.sampled_from(["A", "B", None]),
    "currency": st.sampled_from(["CNY", "USD", "JPY"]), "exp": st.sampled_from([0, 2, 3]),
    "stage_label": TEXT, "stage_label_zh": TEXT, "overdue_minor": MINOR, "due_soon_minor": MINOR,
    "oldest_invoice": TEXT, "oldest_days_late": st.integers(-30, 4000), "late_fee_minor": MINOR,
    "promise_date": DAY, "promise_minor": st.one_of(st.none(), MINOR), "broken_promises": st.integers(0, 5),
    "next_action": TEXT, "next_action_zh": TEXT, "channel": st.sampled_from([*CHANNEL_LABELS, "fax"]),
    "next_action_date": DAY, "account_manager": OPT_TEXT,
})


def _worklist(rows: list[dict]) -> pd.DataFrame:
    """A work list with the dtypes collections_worklist gives."""
    df = pd.DataFrame(rows, columns=WORK_COLUMNS)
    for c in ("exp", "overdue_minor", "due_soon_minor", "oldest_days_late", "late_fee_minor", "broken_promises"):
        df[c] = df[c].astype("int64")
    df["promise_minor"] = df["promise_minor"].astype("Int64")
    for c in ("promise_date", "next_action_date"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[s]")
    for c in ("name", "class", "account_manager"):
        df[c] = df[c].astype(object)
    for c in ("owner", "owner_zh", "customer_id", "currency", "stage_label", "stage_label_zh", "oldest_invoice",
              "next_action", "next_action_zh", "channel"):
        df[c] = df[c].astype("str")  # pandas' string dtype, missing values and all, as a real work list has
    return df


def _same(got: list[list], want: list[list]) -> None:
    assert render_sheet(got, style_index=STYLES) == render_sheet(want, style_index=STYLES)
    assert repr(got) == repr(want)  # the same values of the same types, not only the same XML


@settings(max_examples=150, deadline=None)
@given(st.lists(WORK_ROW, max_size=6), st.sampled_from(["en", "zh"]), st.integers(0, 30))
def test_collections_rows_are_the_reference_rows(rows, lang, days):
    wl = _worklist(rows)
    as_of = dt.date(2026, 10, 31)
    _same(collections_rows(wl, lang, as_of, days), reference_collections_rows(wl, lang, as_of, days))


CASE_LINE = st.tuples(st.sampled_from(list(ITEM_LABELS)), st.sampled_from(list(STATUS_LABELS)),
                      st.lists(TEXT, max_size=3).map(tuple), st.lists(TEXT, max_size=3).map(tuple))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["C1", "C2", "客户3"]), TEXT, st.lists(CASE_LINE, min_size=1, max_size=4)),
                max_size=4), st.sampled_from(["en", "zh", "fr"]))
def test_legal_rows_are_the_reference_rows(cases, lang):
    records = [(cid, name, *line) for cid, name, lines in cases for line in lines]
    legal = pd.DataFrame(records, columns=["customer_id", "name", "item", "status", "refs", "missing"])
    if records:
        legal[["customer_id", "name", "item", "status"]] = legal[["customer_id", "name", "item", "status"]].astype("str")
    as_of = dt.date(2026, 10, 31)
    _same(legal_rows(legal, lang, as_of), reference_legal_rows(legal, lang, as_of))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=4), st.lists(st.sampled_from("ABCD"), min_size=1, max_size=4, unique=True),
       st.integers(1, 3), st.sampled_from(["en", "zh"]), st.randoms(use_true_random=False), st.data())
def test_warning_layout_is_the_reference_layout(overdue, classes, n_amounts, lang, rnd, data):
    """A full cube (every band x class x amount band), its rows in any order."""
    records = [{"band": b, "band_label": f"band {b}", "band_label_zh": f"段 {b}", "overdue": od, "amount_band": a,
                "amount_label": f"amt {a}", "amount_label_zh": f"金额 {a}", "class": c,
                "count": data.draw(st.integers(0, 10**6)), "amount_minor": data.draw(st.integers(0, 10**15)),
                "currency": "CNY", "exp": 2}
               for b, od in enumerate(overdue) for c in classes for a in range(n_amounts)]
    rnd.shuffle(records)
    table = pd.DataFrame(records)
    as_of = dt.date(2026, 10, 31)
    got, want = _warning_layout(table, lang, as_of), reference_warning_layout(table, lang, as_of)
    assert got[1] == want[1]
    _same(got[0], want[0])


@given(st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-10**6, 10**6)), st.integers(0, 4))
def test_money_cells_are_the_floats_of_the_exact_decimals(minor, exp):
    assert _money(minor, exp) == (float(to_major(minor, exp)), "money")
    assert _money(np.int64(minor), np.int64(exp)) == (float(to_major(minor, exp)), "money")

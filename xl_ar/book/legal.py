"""The Legal sheet (法律准备): the evidence checklist of every case at the severe stage.

One block per case: the customer, then one row per item of
:data:`xl_ar.core.evidence.EVIDENCE_ITEMS` with its status (present / MISSING / none), what was
found (contract and delivery-note numbers, invoices, log dates) and which invoices lack it. A
missing item is red: it is the gap to fill before the file goes to a lawyer. Written by every
refresh, as the Aging and Collections sheets are, through both adapters.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from xl_ar.book.owned import OwnedSheet
from xl_ar.core.evidence import all_checklist_lines

_T = {"en": {"title": "Legal readiness as of {as_of}: evidence per case at the severe stage",
             "head": ("CustomerID", "Name", "Evidence", "Status", "Found", "Missing for"),
             "none": "No case at the severe stage"},
      "zh": {"title": "法律准备 截止 {as_of}：严重阶段各案件的证据清单",
             "head": ("客户编号", "客户名称", "证据", "状态", "已有", "缺少的发票"),
             "none": "暂无严重阶段的案件"}}
WIDTHS = {1: 14, 2: 28, 3: 26, 4: 10, 5: 50, 6: 30}


def legal_rows(legal: pd.DataFrame, lang: str, as_of: dt.date | None) -> list[list]:
    """The Legal sheet's rows: a title, a header (row 2), then one row per case and item.

    Args:
        legal: :func:`xl_ar.core.evidence.evidence_checklist`.
        lang: "zh" or "en".
        as_of: the as-of date, for the title.

    Returns:
        Rows from A1; cells are values or ``(value, style name)``.
    """
    t = _T[lang if lang in _T else "en"]
    rows: list[list] = [[(t["title"].format(as_of=f"{as_of:%Y-%m-%d}" if as_of else ""), "title")],
                        [(h, "header") for h in t["head"]]]
    names = dict(zip(legal["customer_id"].tolist()[::-1], legal["name"].tolist()[::-1]))  # each case's first name
    for cid, lines in all_checklist_lines(legal, lang).items():
        name = str(names[cid])
        for k, (item, status, found, missing, lacking) in enumerate(lines):
            rows.append([cid if k == 0 else None, name if k == 0 else None, item,
                         (status, "late") if lacking else status, found or None, missing or None])
    if legal.empty:
        rows.append([t["none"]])
    return rows


def legal_sheet(legal: pd.DataFrame, lang: str, as_of: dt.date | None, name: str) -> OwnedSheet:
    """The Legal sheet as an owned sheet named ``name``."""
    return OwnedSheet(name, legal_rows(legal, lang, as_of), WIDTHS)

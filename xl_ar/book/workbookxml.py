"""The workbook part (``xl/workbook.xml``) and its calculation chain: what Excel allows as a
sheet name, keeping sheet positions right when a sheet is inserted, and whether the chain
lists a formula that a replaced sheet part removes."""

from __future__ import annotations

import re
from typing import Sequence

from xl_ar.book.sheetxml import BookError, split_ref


def check_sheet_name(name: str) -> None:
    """Refuse a sheet name Excel would not accept (length, characters, the reserved History)."""
    if not isinstance(name, str) or not 1 <= len(name) <= 31:
        raise BookError(f"sheet name {name!r} must have 1 to 31 characters")
    bad = set(name) & set("[]:*?/\\")
    if bad or name.startswith("'") or name.endswith("'") or name.casefold() == "history":
        raise BookError(f"sheet name {name!r} is not allowed in Excel")


def shift_sheet_indexes(x: bytes, at: int) -> bytes:
    """After inserting a sheet at position ``at``, renumber sheet positions at or after it."""
    def bump(m: re.Match[bytes]) -> bytes:
        n = int(m.group(2))
        return m.group(1) + str(n + 1 if n >= at else n).encode() + b'"'
    x = re.sub(rb'(<(?:\w+:)?definedName\b[^>]*?\slocalSheetId=")(\d+)"', bump, x)
    return re.sub(rb'(<(?:\w+:)?workbookView\b[^>]*?\s(?:activeTab|firstSheet)=")(\d+)"', bump, x)


def calc_chain_lists(chain: bytes, sheet_id: int, cleared: tuple[int, Sequence[int]] | None) -> bool:
    """Does the calcChain part list a formula of this sheet that a replacement removes?

    Args:
        chain: the ``xl/calcChain.xml`` part.
        sheet_id: the sheet's id in the workbook.
        cleared: (header row, columns) the replacement rewrites from the header row down, or
            None when the whole sheet is replaced.
    """
    header_row, columns = (cleared[0], set(cleared[1])) if cleared else (0, set())
    current = None
    for m in re.finditer(rb"<(?:\w+:)?c\b([^>]*)>", chain):
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

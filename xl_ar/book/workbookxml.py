"""The workbook part (``xl/workbook.xml``): what Excel allows as a sheet name, and keeping
sheet positions right when a sheet is inserted."""

from __future__ import annotations

import re

from xl_ar.book.sheetxml import BookError



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

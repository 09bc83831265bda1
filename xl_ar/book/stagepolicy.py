"""A workbook's collection policy (its Stages sheet) and language, for one worksheet function.

``=AR_STAGE`` answers with the rules of the book it is typed in, as the refresh does: a Stages
range passed to it, else the calling book's Stages sheet, else the built-in rules; and in the
book's language (its Settings ``Language``, else the language of the Stages headers).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from xl_ar.book.headers import sheet_for_name
from xl_ar.book.reader import read_sheets
from xl_ar.core.issues import Issue
from xl_ar.core.stages import DEFAULT_STAGE_RULES, StageRule, stage_rules_from_table

#: The name a Stages range passed to a function is read under (places in messages).
RANGE_SHEET = "Stages"


@dataclass(frozen=True)
class StagePolicy:
    """The rules to stage with and the language of the labels.

    Attributes:
        rules: the policy (the built-in rules when the book has none).
        lang: "zh" or "en".
        issues: errors and warnings of the Stages table (places as ``Sheet!B3``).
    """

    rules: tuple[StageRule, ...] = DEFAULT_STAGE_RULES
    lang: str = "en"
    issues: list[Issue] = field(default_factory=list)

    @property
    def error(self) -> Issue | None:
        """The first error of the table, if any."""
        return next((i for i in self.issues if i.severity == "error"), None)


def _chinese(values: Sequence[Any]) -> bool:
    return any(unicodedata.east_asian_width(ch) in "WF" for v in values if isinstance(v, str) for ch in v)


def stage_policy(sheet_names: Sequence[str], rows_of: Callable[[str], list[list[Any]]],
                 table: list[list[Any]] | None = None) -> StagePolicy:
    """The collection policy and language of a workbook.

    Args:
        sheet_names: the workbook's sheet names (empty when the book is not known); only its
            Settings sheet and, without ``table``, its Stages sheet are read.
        rows_of: sheet name -> its values from A1.
        table: a Stages table (header row first) given directly, e.g. a range passed to a
            worksheet function; it wins over the book's Stages sheet.

    Returns:
        The :class:`StagePolicy`.
    """
    wanted = {"Settings"} if table else {"Settings", "Stages"}
    names = [n for n in sheet_names if sheet_for_name(n) in wanted]
    rows = {n: rows_of(n) for n in names}
    if table:
        names.append(RANGE_SHEET)
        rows[RANGE_SHEET] = [list(r) for r in table]
    data = read_sheets(names, rows.__getitem__)
    raw = data.tables.get("Stages")
    rules, issues = DEFAULT_STAGE_RULES, []
    if raw is not None and raw.columns:
        found, issues = stage_rules_from_table(raw.frame, raw.columns, raw.sheet)
        rules = tuple(found)
    elif table:
        issues = [Issue(RANGE_SHEET, "the Stages range has no header row (Stage, FromDay, ToDay, … or 阶段, 起始天数, "
                                     "截止天数, …): select the Stages table with its header")]
    if "Settings" in data.layouts:  # as the refresh reads it: a blank Language is the default, zh
        lang = str(data.settings.get("Language", ("zh", ""))[0] or "zh").strip().lower()
    else:
        header = rows[raw.sheet][data.layouts["Stages"].header_row - 1] if raw is not None and raw.columns else []
        lang = "zh" if _chinese(header) else "en"
    return StagePolicy(rules, "zh" if lang == "zh" else "en", issues)

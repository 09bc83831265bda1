"""Problems found in a user's ledger, each naming its place in the workbook."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Issue:
    """One problem in the user's data.

    Attributes:
        where: the place, as an Excel reference: ``"Invoices!D17"``, ``"Invoices!D"`` (a whole
            column) or ``"Invoices"`` (a whole sheet).
        message: what is wrong, in words an accountant understands.
        severity: ``"error"`` stops the run before anything is written; ``"warning"`` is
            reported and the run goes on.
    """

    where: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def has_errors(issues: Iterable[Issue]) -> bool:
    """Return True when any issue is an error."""
    return any(i.severity == "error" for i in issues)


class LedgerError(Exception):
    """Raised by entry points when a run cannot go on; carries every issue found."""

    def __init__(self, issues: list[Issue]):
        self.issues = list(issues)
        errors = [i for i in self.issues if i.severity == "error"]
        head = "; ".join(str(i) for i in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"{len(errors)} error(s) in the ledger: {head}{more}")

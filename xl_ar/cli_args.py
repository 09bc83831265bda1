"""What every ``xl-ar`` subcommand shares: exit codes, the date argument type, issue printing."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any, Iterable

from xl_ar.core.convert import parse_date
from xl_ar.core.issues import Issue

EXIT_OK, EXIT_ISSUES, EXIT_USAGE = 0, 1, 2


def date_arg(text: str) -> dt.date:
    """An argparse type for dates: the forms the ledger accepts (2025-06-30, 2025/6/30, 2025年6月30日)."""
    try:
        d = parse_date(text)
    except ValueError:
        d = None
    if d is None:
        raise argparse.ArgumentTypeError(f'"{text}" is not a date (use YYYY-MM-DD)')
    return d


def console_for(args: argparse.Namespace) -> Any:
    """A rich console: on stderr under ``--json``, so stdout holds only the JSON object."""
    from rich.console import Console

    return Console(stderr=bool(getattr(args, "json", False)), highlight=False)


def esc(value: Any) -> str:
    """User text (cell values, sheet names, paths) made safe for rich markup: ``[red]`` and
    ``[/]`` in a cell print as typed instead of styling the console or failing."""
    from rich.markup import escape

    return escape(str(value))


def print_issues(issues: Iterable[Issue], console: Any) -> None:
    """One line per issue: severity, place, message (both escaped: they quote the user's cells)."""
    for i in issues:
        style = "red" if i.severity == "error" else "yellow"
        console.print(f"[{style}]{i.severity}[/] {esc(i.where)}: {esc(i.message)}", highlight=False)

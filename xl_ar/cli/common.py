"""What every ``xl-ar`` subcommand shares: exit codes, the date argument type, the console,
issue printing and the progress bar."""

from __future__ import annotations

import argparse
import datetime as dt
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from xl_ar.core.issues import Issue
from xl_ar.core.progress import Progress

EXIT_OK, EXIT_ISSUES, EXIT_USAGE = 0, 1, 2


def date_arg(text: str) -> dt.date:
    """An argparse type for dates: the forms the ledger accepts (2025-06-30, 2025/6/30, 2025年6月30日)."""
    from xl_ar.core.convert import parse_date  # here, not at the top: `xl-ar --help` needs no pandas

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

    return Console(stderr=bool(getattr(args, "json", False)), highlight=False, quiet=bool(getattr(args, "quiet", False)))


def add_quiet(parser: argparse.ArgumentParser) -> None:
    """Add ``--quiet`` (no progress bar, no report: failures only) to a subcommand."""
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="print nothing but failures (the exit code says whether there were issues)")


def esc(value: Any) -> str:
    """User text (cell values, sheet names, paths) made safe for rich markup: ``[red]`` and
    ``[/]`` in a cell print as typed instead of styling the console or failing."""
    from rich.markup import escape

    return escape(str(value))


def print_issues(issues: Iterable[Issue], console: Any) -> None:
    """One line per issue: severity, place, message."""
    for i in issues:  # the place and message hold the user's text: never read as console markup
        style = "red" if i.severity == "error" else "yellow"
        console.print(f"[{style}]{i.severity}[/] {esc(i.where)}: {esc(i.message)}", highlight=False)


#: Issues printed before "and N more" (all of them are in --json).
MAX_PRINTED_ISSUES = 50
#: Rows of a table (the Outbox) printed before "and N more" (the sheet and --json have them all).
MAX_PRINTED_ROWS = 50


@contextmanager
def progress_bar(console: Any) -> Iterator[Progress]:
    """A progress callback drawing a bar on the console (nothing when it is not a terminal)."""
    from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    with Bar(TextColumn("[bold]{task.description}"), BarColumn(), TimeElapsedColumn(),
             console=console, transient=True, disable=console.quiet or not console.is_terminal) as bar:
        task = bar.add_task("reading", total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        yield progress


def fail(console: Any, exc: BaseException) -> int:
    """Print an expected failure (a file or workbook problem) as one line; the usage exit code."""
    from rich.console import Console

    if console.quiet:  # --quiet hides the report, never a failure
        console = Console(stderr=True, highlight=False)
    console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
    return EXIT_USAGE

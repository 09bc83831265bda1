"""What every ``xl-ar`` subcommand shares: exit codes, the date argument type, the console,
issue printing and the progress bar."""

from __future__ import annotations

import argparse
import datetime as dt
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from xl_ar.core.issues import Issue
from xl_ar.core.progress import STEP_NAMES, Progress, by_whole_percent, step_name

EXIT_OK, EXIT_ISSUES, EXIT_USAGE = 0, 1, 2
#: A fault of xl-ar itself (EX_SOFTWARE), and a run stopped by Ctrl-C (128 + SIGINT).
EXIT_INTERNAL, EXIT_INTERRUPTED = 70, 130


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
    """A progress callback drawing a bar on the console, each step by its name in both languages
    (nothing when it is not a terminal)."""
    from rich.cells import cell_len
    from rich.progress import BarColumn, Progress as Bar, TextColumn, TimeElapsedColumn
    from rich.table import Column

    names = Column(min_width=max(map(cell_len, STEP_NAMES.values())))  # the bar does not jump from step to step
    with Bar(TextColumn("[bold]{task.description}", table_column=names), BarColumn(), TimeElapsedColumn(),
             console=console, transient=True, disable=console.quiet or not console.is_terminal) as bar:
        task = bar.add_task(esc(step_name("read")), total=1.0)

        def draw(stage: str, fraction: float) -> None:  # at once, as the step or its percent changes
            bar.update(task, description=esc(step_name(stage)), completed=fraction, refresh=True)

        yield by_whole_percent(draw)


def fail(console: Any, exc: BaseException) -> int:
    """Print an expected failure (a file or workbook problem) as one line; the usage exit code."""
    from rich.console import Console

    if console.quiet:  # --quiet hides the report, never a failure
        console = Console(stderr=True, highlight=False)
    console.print(f"[red]error:[/] {esc(exc)}", highlight=False)
    return EXIT_USAGE


def fail_internal(exc: BaseException) -> int:
    """Report a fault of xl-ar itself (not of the workbook or the command) as one line on the
    error stream, never a traceback: its type and message, and the file its details were
    written to for a report. A workbook is saved whole or not at all, so a run stopped by it
    left the workbook as it was, unless the run had already reported it saved."""
    import os
    import tempfile
    import traceback

    from rich.console import Console

    from xl_ar import __version__

    where = ""
    try:
        fd, name = tempfile.mkstemp(prefix="xl-ar-error-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(f"xl-ar {__version__}\n" + "".join(traceback.format_exception(exc)))
        where = f"; the details are in {name}: please send it with a report"
    except OSError:  # no temporary file: the line alone
        pass
    Console(stderr=True, highlight=False).print(
        f"[red]error:[/] xl-ar stopped on an internal error ({esc(type(exc).__name__)}: {esc(exc)}){esc(where)}",
        highlight=False)
    return EXIT_INTERNAL

"""The ``xl-ar`` command: the same runs as the ribbon buttons, without Excel.

Each command group is a module of this package with a ``register(subparsers)`` that adds its
subcommands; every subparser sets ``handler``, a function of the parsed arguments that returns
the exit code. The handlers parse, call a run of ``xl_ar.app`` and print: nothing else.
"""

from __future__ import annotations

import argparse
import os
import sys

from xl_ar import __version__
from xl_ar.cli.common import EXIT_INTERRUPTED, console_for, fail, fail_internal

#: The command groups, in the order ``--help`` lists them.
GROUPS = ("ledger", "plans", "documents", "statements", "build")


def parser() -> argparse.ArgumentParser:
    """The ``xl-ar`` argument parser with every subcommand."""
    import importlib

    p = argparse.ArgumentParser(
        prog="xl-ar",
        description="Receivables collection for ledgers kept in Excel: aging, late fees, "
        "credit and collection runs on the workbook itself (应收账款账龄、滞纳金与催收).",
    )
    p.add_argument("--version", action="version", version=f"xl-ar {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in GROUPS:
        importlib.import_module(f"xl_ar.cli.{group}").register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run ``xl-ar`` with ``argv`` (default: the process's arguments); return the exit code."""
    from xl_ar.core.numerics import strict_numerics

    args = parser().parse_args(argv)
    try:
        with strict_numerics():  # an overflow is an error, never a silently wrong figure
            return args.handler(args)
    except (FileExistsError, FileNotFoundError, IsADirectoryError, PermissionError) as exc:
        return fail(console_for(args), exc)
    except (OverflowError, FloatingPointError) as exc:
        return fail(console_for(args), f"a figure is too large to compute ({exc}); nothing was written")
    except KeyboardInterrupt:
        print("xl-ar: stopped (interrupted); a workbook is saved whole or not at all", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a fault of xl-ar itself: one line, the details in a file
        if os.environ.get("XL_AR_DEBUG"):
            raise
        return fail_internal(exc)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

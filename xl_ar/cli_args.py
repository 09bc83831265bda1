"""Argument types shared by every ``xl-ar`` subcommand."""

from __future__ import annotations

import argparse
import datetime as dt

from xl_ar.core.convert import parse_date


def date_arg(text: str) -> dt.date:
    """An argparse type for dates: the forms the ledger accepts (2025-06-30, 2025/6/30, 2025年6月30日)."""
    try:
        d = parse_date(text)
    except ValueError:
        d = None
    if d is None:
        raise argparse.ArgumentTypeError(f'"{text}" is not a date (use YYYY-MM-DD)')
    return d

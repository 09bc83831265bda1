"""CPU seconds of what a refresh writes, in one refresh: ``plan_outputs`` (the computed columns'
values) and ``owned_parts`` (the owned sheets' rows, XML and deflating, made one sheet after
another), measured with ``time.process_time`` inside an in-process ``xl-ar refresh`` of a copy
of the ledger. The owned sheets are made in the run here, never in the process a large ledger's
refresh forks for them (whose time this process would not see).

    python bench/bench_owned.py LEDGER.xlsx [--as-of 2026-10-31]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from xl_ar.book import writer
from xl_ar.cli import main as cli_main

SPENT = {"plan_outputs": 0.0, "owned_parts": 0.0}


def _timed(name: str) -> None:
    inner = getattr(writer, name)

    def wrapper(*args, **kwargs):
        start = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            SPENT[name] += time.process_time() - start

    setattr(writer, name, wrapper)  # write_results looks both up in the module at call time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ledger")
    ap.add_argument("--as-of", default="2026-10-31")
    args = ap.parse_args()
    for name in SPENT:
        _timed(name)
    writer.OWNED_BESIDE_INVOICES = float("inf")  # made here, where they are timed
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "ledger.xlsx"
        shutil.copy(args.ledger, book)
        start = time.process_time()
        try:
            cli_main(["refresh", str(book), "--as-of", args.as_of, "--quiet"])
        except SystemExit:
            pass
        total = time.process_time() - start
    print(" ".join(f"{k} {v:.3f}s" for k, v in SPENT.items()), f"sum {sum(SPENT.values()):.3f}s",
          f"refresh {total:.2f}s (CPU)")


if __name__ == "__main__":
    main()

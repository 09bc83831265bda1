"""The file adapter: a ledger workbook on disk, read with calamine, written by zip-part splice.

Same interface as the live-book adapter the ribbon uses (``read() -> BookData``,
``write(result, settings, data, ledger) -> (changed, backup path)``), so ``xl-ar refresh`` and the
"Refresh Aging" button run the same code.
"""

from __future__ import annotations

import os
from pathlib import Path

from xl_ar.book.headers import OUTPUTS
from xl_ar.book.package import BookError, WorkbookPackage, check_not_open
from xl_ar.book.reader import BookData, read_book
from xl_ar.book.splice_scan import Scans, start_scans
from xl_ar.book.writer import output_columns, write_results
from xl_ar.core.ledger import Ledger
from xl_ar.core.progress import Step
from xl_ar.core.run import RunResult
from xl_ar.core.settings import Settings


class FileBook:
    """A workbook file. Nothing is written unless a run has no errors and changes something."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._scans: Scans | None = None

    def _state(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return st.st_mtime_ns, st.st_size

    def read(self, progress: Step | None = None, checks_later: bool = False) -> BookData:
        """The book's ledger (:func:`xl_ar.book.reader.read_book`), ``progress`` told how far it
        is; ``checks_later``: the large sheets' well-formedness is left to finish while the run
        goes on (:meth:`BookData.finish_checks`)."""
        if not self.path.exists():
            raise FileNotFoundError(f"{self.path} does not exist")
        check_not_open(self.path)
        # Refuses zip and XML bombs before any parser sees the file, and 1904-system books.
        WorkbookPackage.open(self.path).refuse_1904()
        self._stamp = self._state()
        return read_book(self.path, progress, checks_later)

    def scan_ahead(self, data: BookData) -> None:
        """Start scanning the large ledger sheets the write will splice, in a process of their
        own while the run validates and computes (:mod:`xl_ar.book.splice_scan`); :meth:`write`
        takes what was scanned, :meth:`stop_scans` stops it. Only ever time saved: when they
        cannot be started, the splice makes its own passes."""
        self.stop_scans()
        try:
            pkg = WorkbookPackage.open(self.path)
            sheets = {layout.name: (pkg.sheet_part(layout.name), sorted(output_columns(layout, table).values()))
                      for table, layout in data.layouts.items() if table in OUTPUTS}
            self._scans = start_scans(pkg, sheets)
        except Exception:  # (what is wrong with the file, the write says)
            self._scans = None

    def stop_scans(self) -> None:
        """Stop scanning (a run that ends without writing, or has written)."""
        scans, self._scans = self._scans, None
        if scans is not None:
            scans.drop()

    def write(self, result: RunResult, settings: Settings, data: BookData, ledger: Ledger,
              progress: Step | None = None) -> tuple[bool, Path | None]:
        """Write the results back; returns (whether anything changed, the backup's path).
        ``progress`` is told the sheets' bytes spliced, then the save."""
        check_not_open(self.path)
        if self._stamp is not None and self._state() != self._stamp:
            raise BookError(f"{self.path.name} changed while xl-ar was working; run again")
        pkg = WorkbookPackage.open(self.path)
        scans, self._scans = (self._scans.take() if self._scans is not None else {}), None
        done = progress or Step()
        write_results(pkg, data, result, settings, scans, done.part(0.0, 0.95))
        saved = pkg.save_changes()  # None: the same as-of date over the same ledger writes nothing
        done(1.0)
        return saved is not None, saved


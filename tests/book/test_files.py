"""How a refresh treats the file itself: links, read-only books, a concurrent run, a full disk."""

from __future__ import annotations

import fcntl
import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from corpus.build import AS_OF, ledger
from xl_ar.cli import main


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_symlinked_workbook_updates_the_real_file_and_keeps_the_link(tmp_path, capsys):
    (tmp_path / "real").mkdir()
    real = ledger(tmp_path / "real" / "book.xlsx")
    link = tmp_path / "link.xlsx"
    link.symlink_to(real)
    before = digest(real)
    assert main(["refresh", str(link), "--as-of", AS_OF]) == 0
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert digest(real) != before
    assert not [p for p in real.parent.iterdir() if p.name.startswith(".~xl-ar-") and p.suffix == ".tmp"]


def test_a_read_only_workbook_is_refused_and_left_alone(tmp_path, capsys):
    book = ledger(tmp_path / "book.xlsx")
    book.chmod(0o444)
    before = digest(book)
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 2
    assert "book.xlsx is read-only; nothing was written" in " ".join(capsys.readouterr().out.split())
    assert digest(book) == before


def test_a_workbook_with_a_second_hard_link_is_refused(tmp_path, capsys):
    book = ledger(tmp_path / "book.xlsx")
    os.link(book, tmp_path / "other.xlsx")
    before = digest(book)
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 2
    assert "has 2 hard links" in " ".join(capsys.readouterr().out.split())
    assert digest(book) == before == digest(tmp_path / "other.xlsx")


def test_a_second_run_while_one_holds_the_lock_refuses(tmp_path, capsys):
    book = ledger(tmp_path / "book.xlsx")
    before = digest(book)
    fd = os.open(tmp_path / ".~xl-ar-lock.book.xlsx", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)  # what a first run holds while it writes
    try:
        assert main(["refresh", str(book), "--as-of", AS_OF]) == 2
    finally:
        os.close(fd)
    assert "is being updated by another xl-ar run" in " ".join(capsys.readouterr().out.split())
    assert digest(book) == before
    assert main(["refresh", str(book), "--as-of", AS_OF]) == 0  # the lock is gone with its holder


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG) instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


@pytest.mark.parametrize("limit", [4096, 30_000])
def test_a_full_disk_during_the_write_leaves_the_original_with_a_clear_message(tmp_path, limit):
    book = ledger(tmp_path / "book.xlsx")
    assert book.stat().st_size < 30_000 < book.stat().st_size + 20_000  # 30 kB: the backup fits, the new book not
    before = digest(book)
    run = subprocess.run([sys.executable, "-m", "xl_ar.cli", "refresh", str(book), "--as-of", AS_OF],
                         capture_output=True, text=True, preexec_fn=_file_size_limit(limit))
    out = " ".join(run.stdout.split())
    assert run.returncode == 2, run.stderr
    assert "nothing was written" in out or "the workbook is unchanged" in out
    assert "Traceback" not in run.stderr
    assert digest(book) == before
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]

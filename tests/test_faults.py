"""Faults: the real command killed (SIGKILL) at every named point of a refresh and of a send, and
after a range of delays; the workbook is byte-identical or fully written, and the next run recovers.

Named points are reached through ``XL_AR_FAULT_AT`` (see ``xl_ar/book/faults.py``): the process
kills itself there, with no ``finally`` and no cleanup, like a power cut. The delays kill it
from outside wherever it happens to be. Either way nothing is asserted about timing: only about
what is on disk afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "corpus"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "documents"))
from build import AS_OF, ledger  # noqa: E402
from test_send import Inbox, book_for, server  # noqa: E402

from xl_ar.book.faults import FAULT_ENV  # noqa: E402
from xl_ar.book.reader import read_book  # noqa: E402
from xl_ar.documents.outbox import logged_ids  # noqa: E402
from xl_ar.documents.send import Journal, journal_path  # noqa: E402

KILLED = -signal.SIGKILL


def _run(args: list[str], fault: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    e = {**os.environ, **(env or {}), "COLUMNS": "300"}
    e.pop(FAULT_ENV, None)
    if fault:
        e[FAULT_ENV] = fault
    return subprocess.run([sys.executable, "-m", "xl_ar.cli", *args], capture_output=True, text=True, env=e)


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def _litter(folder: Path) -> list[str]:
    """Files a save leaves only while it runs (temp files, partial backups)."""
    found = [p.name for p in folder.glob(".~xl-ar-*.tmp")]
    found += [p.name for p in (folder / ".xl-ar-backups").glob("*.partial")] if (folder / ".xl-ar-backups").is_dir() else []
    return found


# ----------------------------------------------------------------------------- refresh


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """The original ledger, and what one uninterrupted refresh makes of it."""
    d = tmp_path_factory.mktemp("reference")
    original = ledger(d / "original.xlsx")
    done = d / "book.xlsx"
    shutil.copy2(original, done)
    r = _run(["refresh", str(done), "--as-of", AS_OF])
    assert r.returncode == 0, r.stdout + r.stderr
    with zipfile.ZipFile(done) as z:
        members = len(z.namelist())
    return original, _digest(original), _digest(done), members


def _refresh_points(members: int) -> list[str]:
    return (["save:backup", "save:backed-up", "save:synced", "save:replaced"]
            + [f"save:member#{i}" for i in (1, 2, members // 2, members)])


def _check_recovered(book: Path, original_digest: str, done_digest: str) -> None:
    """The book is the original or the fully refreshed one; the next run ends in the refreshed one."""
    assert _digest(book) in (original_digest, done_digest)
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None
    r = _run(["refresh", str(book), "--as-of", AS_OF])
    assert r.returncode == 0, r.stdout + r.stderr
    assert _digest(book) == done_digest  # the same as-of over the same ledger: the same bytes
    assert _litter(book.parent) == []


def test_a_refresh_gives_the_same_bytes_every_time(refreshed, tmp_path):
    original, _, done_digest, _ = refreshed
    book = tmp_path / "book.xlsx"
    shutil.copy2(original, book)
    assert _run(["refresh", str(book), "--as-of", AS_OF]).returncode == 0
    assert _digest(book) == done_digest


@pytest.mark.parametrize("index", range(8))
def test_refresh_killed_at_a_named_point(refreshed, tmp_path, index):
    original, original_digest, done_digest, members = refreshed
    point = _refresh_points(members)[index]
    book = tmp_path / "book.xlsx"
    shutil.copy2(original, book)
    r = _run(["refresh", str(book), "--as-of", AS_OF], fault=point)
    assert r.returncode == KILLED, f"{point} was never reached: {r.stdout}{r.stderr}"
    expected = done_digest if point == "save:replaced" else original_digest
    assert _digest(book) == expected, point
    _check_recovered(book, original_digest, done_digest)


@pytest.mark.parametrize("delay", [0.2, 0.6, 1.0, 1.4, 1.8, 2.2, 2.6, 3.0])
def test_refresh_killed_after_a_delay(refreshed, tmp_path, delay):
    """Killed from outside wherever it is (reading, computing, writing, or already done)."""
    original, original_digest, done_digest, _ = refreshed
    book = tmp_path / "book.xlsx"
    shutil.copy2(original, book)
    env = {**os.environ, "COLUMNS": "300"}
    env.pop(FAULT_ENV, None)
    proc = subprocess.Popen([sys.executable, "-m", "xl_ar.cli", "refresh", str(book), "--as-of", AS_OF],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _check_recovered(book, original_digest, done_digest)


# ----------------------------------------------------------------------------- send

SEND_POINTS = ["send:data#1", "send:journalled#1", "send:delivered#1", "send:sent#1", "send:data#2",
               "send:journalled#2", "send:delivered#2", "send:sent#3", "send:log", "save:backup",
               "save:member#3", "save:synced", "save:replaced"]


@pytest.mark.parametrize("point", SEND_POINTS)
def test_send_killed_at_a_named_point_sends_nothing_twice(tmp_path, point):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        first = _run(["send", str(book), "--yes"], fault=point)
        assert first.returncode == KILLED, f"{point} was never reached: {first.stdout}{first.stderr}"
        with zipfile.ZipFile(book) as z:  # the workbook is whole, whatever it holds now
            assert z.testzip() is None
        second = _run(["send", str(book), "--yes", "--json"])
        assert second.returncode in (0, 1), second.stdout + second.stderr
        third = _run(["send", str(book), "--yes", "--json"])  # nothing is left to do, nothing goes twice
    counts = Counter(inbox.ids())
    assert counts and max(counts.values()) == 1, counts
    journal = [line for line in journal_path(book).read_text().splitlines() if '"sent"' in line]
    assert len(journal) >= len(counts)
    # Only the one window SMTP leaves (journalled "sending", killed before the server's reply)
    # may leave a message unsent: it is reported uncertain, never sent blindly again.
    if point.startswith(("send:journalled", "send:delivered")):
        assert "uncertain" in second.stdout
    else:
        assert len(counts) == 3, (point, counts)
    assert third.returncode in (0, 1) and len(inbox.ids()) == sum(counts.values())
    assert _litter(book.parent) == []
    # The workbook is brought up to the journal: every message known to have gone out is logged
    # (one the server took while the run died before its reply stays uncertain, for a person).
    uncertain = {k for k, ev in Journal(book).load().items() if ev.get("state") != "sent"}
    assert set(counts) - uncertain <= logged_ids(read_book(book))
    assert len(uncertain) == (1 if point.startswith(("send:journalled", "send:delivered")) else 0)


@pytest.mark.parametrize("delay", [0.5, 1.0, 1.5, 2.0, 2.5, 3.0])
def test_send_killed_after_a_delay_sends_nothing_twice(tmp_path, delay):
    inbox = Inbox()
    with server(inbox) as port:
        book = book_for(tmp_path, port)
        env = {**os.environ}
        env.pop(FAULT_ENV, None)
        proc = subprocess.Popen([sys.executable, "-m", "xl_ar.cli", "send", str(book), "--yes"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        with zipfile.ZipFile(book) as z:
            assert z.testzip() is None
        again = _run(["send", str(book), "--yes"])
        assert again.returncode in (0, 1), again.stdout + again.stderr
    counts = Counter(inbox.ids())
    assert not counts or max(counts.values()) == 1, counts

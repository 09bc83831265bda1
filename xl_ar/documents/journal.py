"""The send journal: one line per event beside the workbook, so no message goes out twice.

``BOOK.xlsx.xl-ar-sent.jsonl`` records, flushed and fsynced before the next step, when a
message started going (``sending``), was accepted (``sent``) or refused (``failed``); an
exclusive lock keeps two sends of one workbook apart. See ``xl_ar.documents.send`` for how a
run reads it.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any, Iterator

from xl_ar.book.atomic import fsync_folder

JOURNAL_SUFFIX = ".xl-ar-sent.jsonl"


class SendError(Exception):
    """Sending cannot start or go on (no server set, no password, login refused...)."""




def journal_path(book: str | os.PathLike[str]) -> Path:
    """The send journal of a workbook: ``BOOK.xlsx.xl-ar-sent.jsonl`` beside it."""
    p = Path(book)
    return p.with_name(p.name + JOURNAL_SUFFIX)


class Journal:
    """The append-only record of what the server accepted, one JSON object per line."""

    def __init__(self, book: str | os.PathLike[str]):
        self.path = journal_path(book)
        self._fd: int | None = None

    def load(self) -> dict[str, dict[str, Any]]:
        """The last event of each message id (a torn last line, from a crash, is ignored)."""
        state: dict[str, dict[str, Any]] = {}
        if not self.path.exists():
            return state
        for line in self.path.read_bytes().splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            if isinstance(ev, dict) and isinstance(ev.get("id"), str):
                merged = {**state.get(ev["id"], {}), **ev}
                state[ev["id"]] = merged
        return state

    @contextlib.contextmanager
    def open(self) -> Iterator["Journal"]:
        """Hold the journal open and locked: two sends of one workbook never run at once."""
        new = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _lock(fd, self.path)
            if new:  # the new file's directory entry is durable too
                fsync_folder(self.path.parent)
            self._fd = fd
            yield self
        finally:
            self._fd = None
            os.close(fd)  # closing releases the lock

    def record(self, id: str, state: str, **details: Any) -> None:
        """Append one event and make it durable before returning."""
        if self._fd is None:
            raise RuntimeError("the journal is not open")
        line = json.dumps({"id": id, "state": state, **details}, ensure_ascii=False, default=str) + "\n"
        os.write(self._fd, line.encode("utf-8"))
        os.fsync(self._fd)


def _lock(fd: int, path: Path) -> None:
    try:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except ImportError:  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            raise SendError(f"another xl-ar send is running for this workbook ({path.name} is locked)") from None
    except OSError:
        raise SendError(f"another xl-ar send is running for this workbook ({path.name} is locked)") from None


def sent_ids(book: str | os.PathLike[str]) -> dict[str, str]:
    """Message ids the journal records as accepted by the server -> when (ISO time)."""
    return {k: str(v.get("at", "")) for k, v in Journal(book).load().items() if v.get("state") == "sent"}

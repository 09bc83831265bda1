"""File names made from what a user typed: safe on Windows, macOS and Linux, bounded, unique.

A customer id is whatever was in a cell: it may hold control characters (``_x0007_`` in the
sheet's XML decodes to BEL), path separators, a Windows device name (``CON``), or run to 300
characters (most file systems allow 255 *bytes* per name, and a Chinese character takes three
in UTF-8). The name keeps what is readable of the id and, whenever anything had to be changed
or cut, ends with a short digest of the original, so two ids that clean up to the same text
(``A/B`` and ``A:B``, two long ids sharing their first hundred characters) never share a file;
:func:`case_safe` does the same for the names of one folder that differ only in letter case.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence

#: Bytes (UTF-8) the stem may take: room left for a suffix (``_dunning_9a053c``) and the extension.
MAX_STEM_BYTES = 120
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f-\x9f\u2028\u2029]+')
_WINDOWS_DEVICES = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                              *(f"LPT{i}" for i in range(1, 10))})


def safe_stem(text: object, fallback: str, *, allowed: str | None = None, max_bytes: int = MAX_STEM_BYTES) -> str:
    """A file-name stem for ``text``: safe characters only, at most ``max_bytes`` in UTF-8.

    Args:
        text: what the name is made from (a customer id, a statement id).
        fallback: the stem when nothing usable is left (``"customer"``).
        allowed: a regular-expression character class of what may stay (default: anything but
            path separators, characters Windows refuses and control characters).
        max_bytes: the longest stem, in UTF-8 bytes.

    Returns:
        The stem; when anything was replaced or cut, with ``-`` and 8 hex digits of the
        original's digest appended.
    """
    original = "" if text is None else str(text)
    s = unicodedata.normalize("NFC", original)
    s = re.sub(f"[^{allowed}]+", "_", s) if allowed else _UNSAFE.sub("_", s)
    s = s.strip(" ._")
    if s.split(".")[0].upper() in _WINDOWS_DEVICES:
        s = "_" + s
    changed = s != original or len(s.encode("utf-8")) > max_bytes
    if changed:  # room for the "-" and 8 hex digits of the digest, within max_bytes
        s = _cut(s, max_bytes - 9).rstrip(" ._")
    if not s:
        return fallback + ("-" + _digest(original) if original.strip() else "")
    return f"{s}-{_digest(original)}" if changed else s


def case_safe(stems: Sequence[str], originals: Sequence[object]) -> list[str]:
    """The stems of one folder's files, none two of them equal but for letter case.

    Windows and macOS file systems do not tell ``C1`` from ``c1``: the second file would replace
    the first. Every stem that equals another one of a different original but for case gets
    ``-`` and 8 hex digits of its original's digest (the others stay as they are).

    Args:
        stems: :func:`safe_stem` of each original, in order.
        originals: what each stem was made from (the same original may come more than once).

    Returns:
        The stems, in order.
    """
    made_from: dict[str, set[str]] = {}
    texts = ["" if o is None else str(o) for o in originals]
    for stem, text in zip(stems, texts):
        made_from.setdefault(stem.casefold(), set()).add(text)
    return [stem if len(made_from[stem.casefold()]) == 1 else f"{stem}-{_digest(text)}"
            for stem, text in zip(stems, texts)]


def _cut(s: str, max_bytes: int) -> str:
    """The longest prefix of ``s`` within ``max_bytes`` in UTF-8 (never half a character)."""
    return s.encode("utf-8")[:max_bytes].decode("utf-8", errors="ignore")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]

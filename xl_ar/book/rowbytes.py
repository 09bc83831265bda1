"""Text of many cells at once, as padded byte matrices: the vectorised half of the row renderer.

Each helper returns a ``uint8`` matrix with one row per value whose non-zero bytes, read left to
right, are the value's text (zero bytes are padding), and each row's count of those bytes. XML
text never holds a NUL byte, so such matrices set side by side (:func:`assemble`, constant parts
between them) and rid of their zero bytes (:func:`squeeze`) give every row's XML, in order, from
array operations on whole blocks of rows instead of string operations on each cell.

Numbers are written by words of four bytes: four digits at a time from a table of the 10,000
groups of four, the minus sign and the decimal point each in a word of their own.
"""

from __future__ import annotations

import numpy as np

_GROUP = 10_000  # digits are written by groups of four


def _words(texts: list[str]) -> np.ndarray:
    """Texts of four bytes (NUL for nothing) as uint32 words, one per text."""
    return np.frombuffer("".join(texts).encode("ascii"), dtype=np.uint32).copy()


def _counts(texts: list[str]) -> np.ndarray:
    """Each text's count of bytes other than NUL."""
    return np.array([len(t.replace("\0", "")) for t in texts], np.int64)


# A group of four digits, at index g + _GROUP * kind: kind 0, a leading group other than the
# units' (0 is nothing); 1, the units' group when it leads (0 is "0"); 2, a group after a
# non-zero one ("0042").
_LEAD = [f"{g:4d}".replace(" ", "\0") for g in range(_GROUP)]
_GROUP_TEXTS = ["\0" * 4] + _LEAD[1:] + _LEAD + [f"{g:04d}" for g in range(_GROUP)]
_GROUP_WORDS, _GROUP_COUNTS = _words(_GROUP_TEXTS), _counts(_GROUP_TEXTS)
# Four decimals without their trailing zeros ("5000" is "5"; 0 is nothing).
_DECIMAL_TEXTS = [f"{g:04d}".rstrip("0").ljust(4, "\0") for g in range(_GROUP)]
_DECIMAL_WORDS, _DECIMAL_COUNTS = _words(_DECIMAL_TEXTS), _counts(_DECIMAL_TEXTS)
_MINUS_WORD, _POINT_WORD = _words(["\0\0\0-", ".\0\0\0"])


def _digit_words(v: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Write the digits of non-negative integers, right-aligned, into the words ``out``.

    Args:
        v: int64, each >= 0 and below ``10 ** (4 * out.shape[1])``.
        out: uint32 matrix of ``len(v)`` rows, a word per group of four digits.

    Returns:
        Each number's count of digits (``0`` has one).
    """
    groups = out.shape[1]
    count = np.zeros(v.size, np.int64)
    q = v
    for i in range(groups - 1, -1, -1):  # the units' group first, in the last word
        q, g = np.divmod(q, _GROUP)
        idx = g + _GROUP * (2 * (q > 0) if i < groups - 1 else 1 + (q > 0))
        out[:, i] = _GROUP_WORDS[idx]
        count += _GROUP_COUNTS[idx]
    return count


def _groups(v: np.ndarray) -> int:
    """Words needed for the digits of the largest of ``v`` (at least one)."""
    return max(1, (len(str(int(v.max()))) + 3) // 4) if v.size else 1


def digits_matrix(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decimal digits of non-negative integers, right-aligned (``0`` is the one digit ``0``).

    Args:
        v: int64, each >= 0.

    Returns:
        ``uint8`` matrix of ``len(v)`` rows, four columns for each group of four digits of the
        largest number; and each number's count of digits.
    """
    words = np.empty((v.size, _groups(v)), np.uint32)
    count = _digit_words(v, words)
    return words.view(np.uint8), count


def number_matrix(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The shortest round-trip text of each number as ``repr`` writes it, a whole one without ".0".

    Three sorts of numbers:

    - A whole number below 1e16: its integer's digits (``repr`` writes it positionally). Negative
      zero is written "0" (Excel has no negative zero).
    - A number ``x`` that is the double nearest to a decimal ``d = m / 10**4``, for an integer
      ``0 < m < 1e15`` (amounts of money, rates, times of day: at most four decimals): the
      digits of ``d``, the fraction's trailing zeros dropped. That is what ``repr`` writes: a
      double keeps 15 significant digits, so two different decimals of at most 15 significant
      digits are nearest to two different doubles; no decimal of at most 15 digits other than
      ``d`` rounds to ``x``, and the shortest one that does, which ``repr`` writes, is ``d``.
      ``repr`` writes it positionally, as ``1e-4 <= |d| < 1e16``.
    - Any other number (1/3, 1e-5, 1e20): ``repr`` itself, one at a time.

    Args:
        x: float64, finite, no NaN.

    Returns:
        ``uint8`` matrix of ``len(x)`` rows, and each row's count of non-zero bytes.
    """
    ax = np.abs(x)
    whole = (ax == np.trunc(ax)) & (ax < 1e16)
    frac = other = None
    if whole.all():  # days, counts, dates: integers only
        ip = ax.astype(np.int64)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # ax * 1e4 may overflow: not exact
            m = np.rint(ax * 1e4)  # m / 1e4 is the double nearest to m / 10**4 (m and 1e4 are exact)
            exact = (m / 1e4 == ax) & (m < 1e15) & ~whole  # m > 0, as x is not whole
        ip, frac = np.divmod(np.where(exact, m, 0).astype(np.int64), _GROUP)
        ip[whole] = ax[whole]
        other = np.flatnonzero(~(whole | exact))
        if not frac.any():
            frac = None
    groups = _groups(ip)
    words = np.empty((x.size, 1 + groups + (0 if frac is None else 2)), np.uint32)
    neg = x < 0
    words[:, 0] = np.where(neg, _MINUS_WORD, 0)
    count = neg + _digit_words(ip, words[:, 1: 1 + groups])
    if frac is not None:
        words[:, 1 + groups] = np.where(frac > 0, _POINT_WORD, 0)
        words[:, 2 + groups] = _DECIMAL_WORDS[frac]
        count += (frac > 0) + _DECIMAL_COUNTS[frac]
    out = words.view(np.uint8)
    if other is not None and other.size:
        texts = [t.removesuffix(".0") for t in map(repr, x[other].tolist())]
        fallback = padded([t.encode() for t in texts])
        if fallback.shape[1] > out.shape[1]:
            out = np.pad(out, ((0, 0), (0, fallback.shape[1] - out.shape[1])))
        out[other] = 0
        out[other, : fallback.shape[1]] = fallback
        count[other] = list(map(len, texts))
    return out, count


def padded(texts: list[bytes]) -> np.ndarray:
    """Byte strings as the rows of a matrix, padded with zero bytes on the right.

    Args:
        texts: byte strings without a NUL byte.

    Returns:
        ``uint8`` matrix of ``len(texts)`` rows, as wide as the longest (at least 1).
    """
    width = max(1, max(map(len, texts), default=1))
    return np.array(texts, dtype=f"S{width}").view(np.uint8).reshape(len(texts), width)


#: What :func:`assemble` lays side by side (see there).
Piece = bytes | np.ndarray | tuple[np.ndarray, np.ndarray]


def assemble(cells: list[tuple[list[Piece], np.ndarray]], close: bytes, n: int) -> np.ndarray:
    """One padded matrix of ``n`` rows: each cell's pieces side by side, then ``close``.

    Args:
        cells: each cell's pieces, and the rows where it is blank (all its bytes zero there).
            A piece is bytes (the same on every row), a ``uint8`` matrix of ``n`` rows, or
            ``(table, index)``: a ``uint8`` matrix and, for each row, the row of it to take.
        close: the bytes that end every row.
        n: the number of rows.

    Returns:
        ``uint8`` matrix of ``n`` rows.
    """
    def width(q: Piece) -> int:
        return len(q) if isinstance(q, bytes) else q.shape[1] if isinstance(q, np.ndarray) else q[0].shape[1]

    # Every row starts as the constant bytes, zero elsewhere; the rest is written a piece at a
    # time, each row's piece copied as one element (a void of the piece's width).
    template = b"".join(q if isinstance(q, bytes) else bytes(width(q)) for pieces, _ in cells for q in pieces)
    mat = np.empty((n, len(template) + len(close)), np.uint8)
    mat[:] = np.frombuffer(template + close, np.uint8)
    at = 0
    for pieces, blank in cells:
        start = at
        for q in pieces:
            w = width(q)
            if isinstance(q, np.ndarray):
                _slot(mat, at, w)[:] = _slot(q, 0, w)
            elif isinstance(q, tuple):
                _slot(mat, at, w)[:] = _slot(q[0], 0, w)[q[1]]
            at += w
        if blank.size:
            mat[blank, start:at] = 0
    return mat


def _slot(mat: np.ndarray, at: int, width: int) -> np.ndarray:
    """Columns ``at:at + width`` of a byte matrix as one element per row, copied as a whole."""
    return mat[:, at: at + width].view(f"V{width}")[:, 0]


def squeeze(mat: np.ndarray, lengths: np.ndarray) -> tuple[bytes, list[int]]:
    """The rows of a padded matrix without their padding, joined, and where each starts.

    Args:
        mat: ``uint8`` matrix, zero bytes being padding.
        lengths: each row's count of non-zero bytes.

    Returns:
        ``(data, offsets)``: row ``i`` is ``data[offsets[i]: offsets[i + 1]]``.
    """
    offsets = np.zeros(len(mat) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return mat.tobytes().translate(None, b"\0"), offsets.tolist()

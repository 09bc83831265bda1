"""The compression of [MS-OVBA] section 2.4.1: how module source is stored in ``vbaProject.bin``.

A CompressedContainer is a signature byte and chunks of at most 4096 decompressed bytes, each
a header and flag bytes over literal bytes and copy tokens (offset, length) into the chunk's
own decompressed data. :func:`compress` finds matches with a hash of three-byte prefixes;
:func:`decompress` reads any valid container (tests use it on Office's own output too).
"""

from __future__ import annotations

import struct

# ---- 2.4.1 Compression and decompression ----

CHUNK_SIZE = 4096  # 2.4.1.1.3: a DecompressedChunk holds at most 4096 bytes
_MAX_CHUNK_DATA = 4096  # 2.4.1.1.4: CompressedChunkSize + 3 <= 4098, header included
_SIGNATURE_BYTE = 0x01  # 2.4.1.1.1
_CHUNK_SIGNATURE = 0b011  # 2.4.1.1.5, bits 12-14 of the CompressedChunkHeader
_MIN_MATCH = 3  # a CopyToken encodes lengths >= 3


def _copy_token_help(difference: int) -> tuple[int, int, int, int]:
    """CopyToken Help, 2.4.1.3.19.1, for ``difference`` bytes already in the chunk.

    Returns ``(length_mask, offset_mask, bit_count, maximum_length)``: the
    offset takes ``bit_count = max(ceil(log2(difference)), 4)`` bits.
    """
    bit_count = max((difference - 1).bit_length(), 4)
    length_mask = 0xFFFF >> bit_count
    offset_mask = ~length_mask & 0xFFFF
    return length_mask, offset_mask, bit_count, length_mask + 3


def _common_length(data: bytes, a: int, b: int, limit: int) -> int:
    """Number of equal bytes at ``data[a:]`` and ``data[b:]``, at most ``limit``.

    ``data[a:a+3] == data[b:b+3]`` is already known.  Comparing slices (in C)
    by doubling then bisecting keeps long runs of repeated text cheap; the
    result equals the spec's byte-by-byte loop (2.4.1.3.19.4), overlapping
    matches included, since both compare the original bytes.
    """
    lo = _MIN_MATCH  # data[a:a+lo] == data[b:b+lo]
    step = 8
    while lo < limit:
        hi = min(lo + step, limit)
        if data[a + lo : a + hi] != data[b + lo : b + hi]:
            break  # the prefix of length hi differs: bisect in (lo, hi)
        lo = hi
        step *= 2
    else:
        return limit
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if data[a + lo : a + mid] == data[b + lo : b + mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _match(data: bytes, chunk_start: int, pos: int, end: int, seen: dict) -> tuple[int, int]:
    """Matching, 2.4.1.3.19.4: the longest earlier match within the chunk.

    The spec scans every candidate from ``pos - 1`` down to the chunk start
    and keeps the first (nearest) of the longest matches, then caps the
    length at MaximumLength.  Only candidates starting with the same three
    bytes can give a match of length >= 3, so ``seen`` (three-byte prefix ->
    positions) yields exactly those, nearest last; the result is the same.
    Returns ``(offset, length)``, ``length`` 0 when there is no match.
    """
    room = end - pos
    candidates = seen.get(data[pos : pos + _MIN_MATCH]) if room >= _MIN_MATCH else None
    if not candidates:
        return 0, 0
    best_length, best = 0, 0
    for candidate in reversed(candidates):
        length = _common_length(data, candidate, pos, room)
        if length > best_length:
            best_length, best = length, candidate
            if length == room:  # nothing can be longer
                break
    maximum_length = _copy_token_help(pos - chunk_start)[3]
    return pos - best, min(best_length, maximum_length)


def _compress_tokens(data: bytes, start: int, end: int) -> bytes:
    """TokenSequences of one chunk, 2.4.1.3.8 and 2.4.1.3.9.

    Each sequence is a FlagByte (bit i set: token i is a CopyToken) and up
    to 8 tokens.  Stops early once the result exceeds 4096 bytes, since the
    chunk is then written raw anyway.
    """
    out = bytearray()
    seen: dict[bytes, list[int]] = {}
    pos = indexed = start
    while pos < end and len(out) <= _MAX_CHUNK_DATA:
        flag_at = len(out)
        out.append(0)
        flags = 0
        for bit in range(8):
            if pos >= end:
                break
            for p in range(indexed, min(pos, end - _MIN_MATCH + 1)):
                seen.setdefault(data[p : p + _MIN_MATCH], []).append(p)
            indexed = max(indexed, pos)
            offset, length = _match(data, start, pos, end, seen)
            if length:
                # 2.4.1.3.19.3 Pack CopyToken.
                _, _, bit_count, _ = _copy_token_help(pos - start)
                out += struct.pack("<H", ((offset - 1) << (16 - bit_count)) | (length - 3))
                flags |= 1 << bit
                pos += length
            else:
                out.append(data[pos])  # LiteralToken
                pos += 1
        out[flag_at] = flags
    return bytes(out)


def _compress_chunk(data: bytes, start: int, end: int) -> bytes:
    """Compressing a DecompressedChunk, 2.4.1.3.7 (header, 2.4.1.3.11 / .13).

    If the tokens do not fit in 4096 bytes the chunk is stored raw
    (2.4.1.3.10): CompressedChunkFlag 0, CompressedChunkSize 0xFFF and
    exactly 4096 bytes of data, so a short final chunk is padded with 0x00
    as the spec prescribes (those zeros then decompress as part of the data).
    """
    tokens = _compress_tokens(data, start, end)
    if len(tokens) <= _MAX_CHUNK_DATA:
        header = 0x8000 | (_CHUNK_SIGNATURE << 12) | (len(tokens) + 2 - 3)
        return struct.pack("<H", header) + tokens
    raw = data[start:end]
    header = (_CHUNK_SIGNATURE << 12) | 0x0FFF
    return struct.pack("<H", header) + raw + bytes(CHUNK_SIZE - len(raw))


def compress(data: bytes) -> bytes:
    """Compress ``data`` into a CompressedContainer, 2.4.1.3.6.

    Args:
        data: the bytes to compress (a module's source, the dir stream).

    Returns:
        SignatureByte 0x01 followed by one CompressedChunk per 4096 bytes of
        input; ``b"\\x01"`` alone for empty input.
    """
    data = bytes(data)
    out = bytearray([_SIGNATURE_BYTE])
    for start in range(0, len(data), CHUNK_SIZE):
        out += _compress_chunk(data, start, min(start + CHUNK_SIZE, len(data)))
    return bytes(out)


def chunk_flags(container: bytes) -> list[int]:
    """CompressedChunkFlag of every chunk of a container we produced."""
    flags, pos = [], 1
    while pos < len(container):
        (header,) = struct.unpack_from("<H", container, pos)
        flags.append(header >> 15)
        pos += (header & 0x0FFF) + 3
    return flags


def decompress(data: bytes) -> bytes:
    """Decompress a CompressedContainer, 2.4.1.3.1 to 2.4.1.3.5.

    Args:
        data: SignatureByte 0x01 followed by CompressedChunks.

    Returns:
        The DecompressedBuffer.  A raw chunk contributes its 4096 bytes
        (2.4.1.3.3), or fewer if the container ends early.

    Raises:
        ValueError: on a bad signature, chunk header or CopyToken.
    """
    data = bytes(data)
    if not data or data[0] != _SIGNATURE_BYTE:
        raise ValueError("not a CompressedContainer: SignatureByte must be 0x01")
    out = bytearray()
    pos = 1
    while pos < len(data):
        if pos + 2 > len(data):
            raise ValueError(f"truncated CompressedChunkHeader at offset {pos}")
        (header,) = struct.unpack_from("<H", data, pos)
        if (header >> 12) & 0b111 != _CHUNK_SIGNATURE:
            raise ValueError(f"bad CompressedChunkSignature at offset {pos}")
        chunk_end = min(pos + (header & 0x0FFF) + 3, len(data))
        chunk_start = len(out)  # DecompressedChunkStart
        pos += 2
        if not header >> 15:  # 2.4.1.3.3 Decompressing a RawChunk
            out += data[pos : pos + CHUNK_SIZE]
            pos += CHUNK_SIZE
            continue
        while pos < chunk_end:  # 2.4.1.3.4 Decompressing a TokenSequence
            flags = data[pos]
            pos += 1
            for bit in range(8):
                if pos >= chunk_end:
                    break
                if not flags >> bit & 1:  # 2.4.1.3.5 LiteralToken
                    out.append(data[pos])
                    pos += 1
                    continue
                if pos + 2 > chunk_end:
                    raise ValueError(f"truncated CopyToken at offset {pos}")
                (token,) = struct.unpack_from("<H", data, pos)
                pos += 2
                difference = len(out) - chunk_start
                if difference == 0:
                    raise ValueError(f"CopyToken at the start of a chunk (offset {pos - 2})")
                # 2.4.1.3.19.2 Unpack CopyToken.
                length_mask, offset_mask, bit_count, _ = _copy_token_help(difference)
                length = (token & length_mask) + 3
                offset = ((token & offset_mask) >> (16 - bit_count)) + 1
                if offset > difference:
                    raise ValueError(f"CopyToken points before its chunk (offset {pos - 2})")
                source = out[len(out) - offset :]
                # Overlapping copies (offset < length) repeat the last bytes.
                out += (source * (length // offset + 1))[:length]
    return bytes(out)

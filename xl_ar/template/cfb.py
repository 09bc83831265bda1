"""A minimal writer of MS-CFB (Compound File Binary) files, version 3.

Only writing is supported, and only what a ``vbaProject.bin`` needs:
storages and streams given as a nested mapping, 512-byte sectors, the FAT,
the mini stream with its MiniFAT, the DIFAT (in the header and, past 109 FAT
sectors, in DIFAT sectors) and the directory with a valid red-black tree per
storage.  Section numbers in comments refer to [MS-CFB].

Everything that could vary between two runs is fixed: CLSIDs, state bits and
timestamps are zero, and the order of entries and sectors depends only on the
names and bytes given, so the same tree always yields the same bytes.

Example::

    data = write_compound_file({
        "PROJECT": b"...",
        "VBA": {"dir": b"...", "Module1": b"..."},
    })
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Mapping, Union

__all__ = ["Tree", "cfb_name_key", "write_compound_file"]

# 2.2 Compound File Header: version 3 uses 512-byte sectors and 64-byte mini
# sectors; streams smaller than the cutoff are stored in the mini stream.
SECTOR_SIZE = 512
MINI_SECTOR_SIZE = 64
MINI_STREAM_CUTOFF = 4096
HEADER_DIFAT_ENTRIES = 109
_IDS_PER_SECTOR = SECTOR_SIZE // 4  # FAT / MiniFAT entries per sector
_IDS_PER_DIFAT_SECTOR = _IDS_PER_SECTOR - 1  # last slot chains to the next
_HEADER_SIGNATURE = bytes.fromhex("D0CF11E0A1B11AE1")

# 2.1 Compound File Sector Numbers and Types.
MAXREGSECT = 0xFFFFFFFA
DIFSECT = 0xFFFFFFFC
FATSECT = 0xFFFFFFFD
ENDOFCHAIN = 0xFFFFFFFE
FREESECT = 0xFFFFFFFF
# 2.6.1: "no sibling / no child" directory stream id.
NOSTREAM = 0xFFFFFFFF

# 2.6.1 Compound File Directory Entry.
DIR_ENTRY_SIZE = 128
MAX_NAME_UNITS = 31  # 32 UTF-16 code units including the terminating null
_UNALLOCATED, _STORAGE, _STREAM, _ROOT = 0x00, 0x01, 0x02, 0x05
_RED, _BLACK = 0x00, 0x01
_ENTRY = struct.Struct("<64sHBBIII16sIQQIQ")
# 2.6.1: name characters forbidden in storage and stream names.
_FORBIDDEN_NAME_CHARS = frozenset("/\\:!\x00")
# Version 3 files: stream sizes MUST NOT exceed 0x80000000 (2.6.1).
_MAX_STREAM_SIZE = 0x80000000

Tree = Mapping[str, Union[bytes, bytearray, memoryview, "Tree"]]
"""A storage: names mapped to stream bytes or to nested storages."""


@dataclass
class _Entry:
    """One directory entry being built (2.6.1)."""

    name: str
    kind: int
    data: bytes = b""
    left: int = NOSTREAM
    right: int = NOSTREAM
    child: int = NOSTREAM
    color: int = _BLACK
    start: int = ENDOFCHAIN
    size: int = 0


def cfb_name_key(name: str) -> tuple[int, tuple[int, ...]]:
    """Sort key of a directory entry name, per MS-CFB 2.6.4.

    A shorter name is less than a longer one; names of equal length compare
    UTF-16 code point by code point after simple upper-casing.

    Args:
        name: the entry name.

    Returns:
        ``(length in UTF-16 code units, upper-cased code units)``.
    """
    raw = name.encode("utf-16-le")
    units = struct.unpack(f"<{len(raw) // 2}H", raw)
    return len(units), tuple(_upper_unit(u) for u in units)


def _upper_unit(unit: int) -> int:
    """Simple (one-to-one) upper-case mapping of one UTF-16 code unit."""
    if 0xD800 <= unit <= 0xDFFF:  # a surrogate half has no case
        return unit
    upper = chr(unit).upper()
    # Full mappings such as "ß" -> "SS" are not simple mappings: keep as is.
    return ord(upper) if len(upper) == 1 else unit


def _check_name(name: object) -> str:
    """Validate a storage or stream name against 2.6.1 and return it."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"CFB entry name must be a non-empty str, got {name!r}")
    if len(name.encode("utf-16-le")) // 2 > MAX_NAME_UNITS:
        raise ValueError(
            f"CFB entry name {name!r} is longer than {MAX_NAME_UNITS} UTF-16 code units"
        )
    bad = sorted(set(name) & _FORBIDDEN_NAME_CHARS)
    if bad:
        raise ValueError(f"CFB entry name {name!r} contains forbidden character(s) {bad!r}")
    return name


def _link_siblings(entries: list[_Entry], ids: list[int]) -> int:
    """Arrange sibling entries as a red-black tree (2.6.4).

    The siblings, already sorted by :func:`cfb_name_key`, become a size
    balanced binary search tree: every node takes the median of its range,
    so the two subtrees of any node differ in size by at most one and every
    missing child sits at depth ``h`` or ``h + 1``.  All nodes are black
    except, when the deepest level is not full, the nodes on that level,
    which are red: every path from the root then meets the same number of
    black nodes and no red node has a red child.  (The spec also allows an
    all-black tree, but a properly coloured one is valid for every reader.)

    Args:
        entries: all directory entries; ``left``/``right``/``color`` of the
            siblings are set in place.
        ids: indices into ``entries`` of the siblings, in sorted order.

    Returns:
        The index of the tree's root, or ``NOSTREAM`` if there are none.
    """
    depth_of: dict[int, int] = {}

    def build(lo: int, hi: int, depth: int) -> int:
        if lo >= hi:
            return NOSTREAM
        mid = (lo + hi) // 2
        node = ids[mid]
        depth_of[node] = depth
        entries[node].left = build(lo, mid, depth + 1)
        entries[node].right = build(mid + 1, hi, depth + 1)
        return node

    root = build(0, len(ids), 0)
    count = len(ids)
    perfect = (count + 1) & count == 0  # count == 2**k - 1
    if count and not perfect:
        deepest = max(depth_of.values())
        for node, depth in depth_of.items():
            entries[node].color = _RED if depth == deepest else _BLACK
    return root


def _flatten(tree: Tree) -> list[_Entry]:
    """Turn the nested mapping into directory entries (2.6).

    Entry 0 is the root storage, named "Root Entry" (2.6.2).  Children of a
    storage are numbered in :func:`cfb_name_key` order, storage by storage,
    depth first, which makes the result independent of dict order.
    """
    entries = [_Entry("Root Entry", _ROOT)]

    def add_children(parent: int, storage: Tree) -> None:
        if not isinstance(storage, Mapping):
            raise TypeError(f"a storage must be a mapping, got {type(storage).__name__}")
        names = sorted((_check_name(n) for n in storage), key=cfb_name_key)
        for a, b in zip(names, names[1:]):
            if cfb_name_key(a) == cfb_name_key(b):
                # 2.6.4: siblings compare case-insensitively, so these collide.
                raise ValueError(f"CFB entry names {a!r} and {b!r} differ only in case")
        ids = []
        for name in names:
            value = storage[name]
            if isinstance(value, (bytes, bytearray, memoryview)):
                data = bytes(value)
                if len(data) > _MAX_STREAM_SIZE:
                    raise ValueError(f"stream {name!r} is larger than 2 GiB (CFB v3 limit)")
                entry = _Entry(name, _STREAM, data=data, size=len(data))
            elif isinstance(value, Mapping):
                # 2.6.3: a storage has starting sector and size all zeroes.
                entry = _Entry(name, _STORAGE, start=0)
            else:
                raise TypeError(
                    f"entry {name!r} must be bytes (stream) or a mapping (storage), "
                    f"got {type(value).__name__}"
                )
            ids.append(len(entries))
            entries.append(entry)
        entries[parent].child = _link_siblings(entries, ids)
        for name, index in zip(names, ids):
            if entries[index].kind == _STORAGE:
                add_children(index, storage[name])

    add_children(0, tree)
    return entries


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _fat_and_difat_counts(data_sectors: int) -> tuple[int, int]:
    """Number of FAT and DIFAT sectors needed for ``data_sectors`` (2.3, 2.5).

    The FAT must also describe the FAT and DIFAT sectors themselves, so the
    counts are found by iterating to a fixed point (they only grow).
    """
    fat = difat = 0
    while True:
        total = data_sectors + fat + difat
        new_fat = _ceil_div(total, _IDS_PER_SECTOR)
        new_difat = _ceil_div(max(0, new_fat - HEADER_DIFAT_ENTRIES), _IDS_PER_DIFAT_SECTOR)
        if (new_fat, new_difat) == (fat, difat):
            return fat, difat
        fat, difat = new_fat, new_difat


def _pack_ids(ids: list[int]) -> bytes:
    return struct.pack(f"<{len(ids)}I", *ids)


def _pad(data: bytes, unit: int, fill: bytes = b"\x00") -> bytes:
    return data + fill * (-len(data) % unit)


def write_compound_file(tree: Tree) -> bytes:
    """Write a version 3 compound file holding ``tree``.

    Layout, in sector order: FAT sectors, DIFAT sectors, directory, MiniFAT,
    mini stream, then the regular streams in directory order.  Streams under
    4096 bytes go to the mini stream (2.2 cutoff), others to regular sectors;
    an empty stream has starting sector ENDOFCHAIN.

    Args:
        tree: the root storage's contents; ``bytes``-like values are streams,
            mappings are storages.  Names: 1 to 31 UTF-16 code units, none of
            ``/ \\ : !``, unique ignoring case within a storage.

    Returns:
        The whole file.

    Raises:
        ValueError: for an invalid name, a case-insensitive duplicate or a
            stream over 2 GiB.
        TypeError: for a value that is neither bytes nor a mapping.
    """
    entries = _flatten(tree)

    # 2.4 / 2.6.3: small streams live in the mini stream, in 64-byte sectors.
    mini_streams = [e for e in entries if e.kind == _STREAM and 0 < e.size < MINI_STREAM_CUTOFF]
    big_streams = [e for e in entries if e.kind == _STREAM and e.size >= MINI_STREAM_CUTOFF]
    minifat: list[int] = []
    mini_parts: list[bytes] = []
    for entry in mini_streams:
        count = _ceil_div(entry.size, MINI_SECTOR_SIZE)
        entry.start = len(minifat)
        minifat.extend(range(len(minifat) + 1, len(minifat) + count))
        minifat.append(ENDOFCHAIN)
        mini_parts.append(_pad(entry.data, MINI_SECTOR_SIZE))
    mini_stream = b"".join(mini_parts)
    minifat_bytes = _pad(_pack_ids(minifat), SECTOR_SIZE, b"\xff")  # FREESECT fill

    dir_sectors = _ceil_div(len(entries) * DIR_ENTRY_SIZE, SECTOR_SIZE)
    minifat_sectors = len(minifat_bytes) // SECTOR_SIZE
    mini_stream_sectors = _ceil_div(len(mini_stream), SECTOR_SIZE)
    big_sectors = sum(_ceil_div(e.size, SECTOR_SIZE) for e in big_streams)
    data_sectors = dir_sectors + minifat_sectors + mini_stream_sectors + big_sectors
    fat_count, difat_count = _fat_and_difat_counts(data_sectors)
    total_sectors = fat_count + difat_count + data_sectors
    if total_sectors > MAXREGSECT:
        raise ValueError("compound file too large for 32-bit sector numbers")

    # 2.3 FAT: each chain is a run of consecutive sectors.
    fat = [FREESECT] * (fat_count * _IDS_PER_SECTOR)
    fat_sectors = list(range(fat_count))
    difat_sectors = list(range(fat_count, fat_count + difat_count))
    for sector in fat_sectors:
        fat[sector] = FATSECT
    for sector in difat_sectors:
        fat[sector] = DIFSECT
    next_free = fat_count + difat_count

    def allocate(count: int) -> int:
        nonlocal next_free
        if count == 0:
            return ENDOFCHAIN
        start = next_free
        for sector in range(start, start + count - 1):
            fat[sector] = sector + 1
        fat[start + count - 1] = ENDOFCHAIN
        next_free += count
        return start

    dir_start = allocate(dir_sectors)
    minifat_start = allocate(minifat_sectors)
    entries[0].start = allocate(mini_stream_sectors)  # 2.6.2 root -> mini stream
    entries[0].size = len(mini_stream)
    for entry in big_streams:
        entry.start = allocate(_ceil_div(entry.size, SECTOR_SIZE))

    out = bytearray(SECTOR_SIZE * (1 + total_sectors))

    def put(sector: int, data: bytes) -> None:
        offset = SECTOR_SIZE * (1 + sector)  # sector 0 follows the header
        out[offset : offset + len(data)] = data

    out[:SECTOR_SIZE] = _header(fat_sectors, difat_sectors, dir_start, minifat_start, minifat_sectors)
    fat_bytes = _pack_ids(fat)
    for i, sector in enumerate(fat_sectors):
        put(sector, fat_bytes[i * SECTOR_SIZE : (i + 1) * SECTOR_SIZE])
    for i, sector in enumerate(difat_sectors):
        put(sector, _difat_sector(fat_sectors, difat_sectors, i))
    put(dir_start, _directory(entries))
    if minifat_sectors:
        put(minifat_start, minifat_bytes)
    if mini_stream:
        put(entries[0].start, mini_stream)
    for entry in big_streams:
        put(entry.start, entry.data)
    return bytes(out)


def _header(
    fat_sectors: list[int],
    difat_sectors: list[int],
    dir_start: int,
    minifat_start: int,
    minifat_count: int,
) -> bytes:
    """The 512-byte header, per 2.2 (version 3, little-endian)."""
    head = struct.pack(
        "<8s16sHHHHH6sIIIIIIIII",
        _HEADER_SIGNATURE,
        bytes(16),  # Header CLSID: MUST be zero
        0x003E,  # minor version
        0x0003,  # major version 3: 512-byte sectors
        0xFFFE,  # byte order mark: little-endian
        9,  # sector shift: 2**9 = 512
        6,  # mini sector shift: 2**6 = 64
        bytes(6),  # reserved
        0,  # number of directory sectors: MUST be zero for version 3
        len(fat_sectors),
        dir_start,
        0,  # transaction signature number: not used
        MINI_STREAM_CUTOFF,
        minifat_start if minifat_count else ENDOFCHAIN,
        minifat_count,
        difat_sectors[0] if difat_sectors else ENDOFCHAIN,
        len(difat_sectors),
    )
    # 2.2: the first 109 FAT sector locations are in the header itself.
    difat = fat_sectors[:HEADER_DIFAT_ENTRIES]
    difat = difat + [FREESECT] * (HEADER_DIFAT_ENTRIES - len(difat))
    return head + _pack_ids(difat)


def _difat_sector(fat_sectors: list[int], difat_sectors: list[int], index: int) -> bytes:
    """DIFAT sector ``index`` (2.5): 127 FAT locations, then the next DIFAT sector."""
    first = HEADER_DIFAT_ENTRIES + index * _IDS_PER_DIFAT_SECTOR
    ids = fat_sectors[first : first + _IDS_PER_DIFAT_SECTOR]
    ids = ids + [FREESECT] * (_IDS_PER_DIFAT_SECTOR - len(ids))
    is_last = index + 1 == len(difat_sectors)
    ids.append(ENDOFCHAIN if is_last else difat_sectors[index + 1])
    return _pack_ids(ids)


def _directory(entries: list[_Entry]) -> bytes:
    """The directory stream (2.6), padded with free entries to whole sectors."""
    parts = []
    for e in entries:
        name = (e.name + "\x00").encode("utf-16-le")
        parts.append(
            _ENTRY.pack(
                name,
                len(name),  # name length in bytes, including the terminator
                e.kind,
                e.color,
                e.left,
                e.right,
                e.child,
                bytes(16),  # CLSID: zero (none of our storages has a class)
                0,  # state bits
                0,  # creation time: zero for determinism (MUST be zero for streams)
                0,  # modified time
                e.start if e.kind != _STORAGE else 0,
                e.size,
            )
        )
    # 2.6.1: an unused entry is all zeroes except the three stream ids.
    free = _ENTRY.pack(b"", 0, _UNALLOCATED, 0, NOSTREAM, NOSTREAM, NOSTREAM, bytes(16), 0, 0, 0, 0, 0)
    while len(parts) * DIR_ENTRY_SIZE % SECTOR_SIZE:
        parts.append(free)
    return b"".join(parts)

"""The file layer of a workbook package: the raw zip (read, inflate, copy, deflate), locks, backups.

A member the tool did not change is copied raw (its compressed bytes, CRC, name, date and order
unchanged); a changed one is deflated anew at level 1 (ISA-L when available: the level, not the
library, dominates the time). Records that overflow 32 (or 16) bits move to ZIP64 ones. A
package made whole in memory (a statement workbook) is zipped by :func:`zip_bytes`.

Limits (zip bombs): at most ``MAX_MEMBERS`` members and ``MAX_TOTAL_SIZE`` uncompressed bytes
in all; a member over ``RATIO_FLOOR`` bytes may not expand more than ``MAX_RATIO`` times (a
1,048,575-row sheet is ~150-600 MB of XML and deflates 5-15:1); a member never inflates past
its declared size.

Before a workbook is written over, :func:`check_not_open` refuses one open in Excel and
:func:`backup` keeps a dated copy.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import fcntl
import os
import re
import shutil
import struct
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

from xl_ar.book.deflate import CRC_MASK as _CRC_MASK
from xl_ar.book.deflate import DeflatedPart, Spill, deflate
from xl_ar.book.deflate import z as _z
from xl_ar.book.faults import fault_point
from xl_ar.book.sheetxml import BookError
from xl_ar.book.wellformed import Corrupt, member_pieces


MAX_MEMBERS = 50_000
MAX_TOTAL_SIZE = 2 << 30
MAX_RATIO = 200
RATIO_FLOOR = 10 << 20
BACKUP_DIR = ".xl-ar-backups"
KEEP_BACKUPS = 20

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_U32, _U16 = 0xFFFFFFFF, 0xFFFF  # fields that overflow at these values move to ZIP64 records
_DOS_1980 = (0, 0x21)  # (time, date) of 1980-01-01 00:00:00, for members we add


class BookLockedError(BookError):
    """The workbook is open in Excel (or LibreOffice): writing it now would lose someone's work."""


@dataclass
class ZipMember:
    """One member as stored: its directory entry, its name as raw bytes, where its data starts."""

    info: zipfile.ZipInfo
    name_bytes: bytes
    data_offset: int


@dataclass
class ZipDirectory:
    """A checked central directory.

    Attributes:
        members: the members by name.
        lower: lower-cased name -> name (part names are case-insensitive).
        order: the names in the order they are stored.
        comment: the archive comment.
        stamp: ``(size, mtime_ns)`` of the file when it was read.
    """

    members: dict[str, ZipMember]
    lower: dict[str, str]
    order: list[str]
    comment: bytes
    stamp: tuple[int, int]


def read_directory(path: Path) -> ZipDirectory:
    """Read a workbook's zip directory and check every member against the limits.

    Args:
        path: the .xlsx/.xlsm file.

    Returns:
        The directory; a file that is missing, not a zip, encrypted or over a limit raises
        :class:`BookError`.
    """
    name = path.name
    if path.is_dir():
        raise BookError(f"{name} is a folder, not a workbook file (.xlsx/.xlsm)")
    try:
        st = path.stat()
        with open(path, "rb") as f:
            head = f.read(8)
    except FileNotFoundError:
        raise BookError(f"{name}: no such file") from None
    except PermissionError:
        raise BookError(f"{name}: permission denied") from None
    if head == _OLE_MAGIC:
        raise BookError(f"{name} is password-protected or an old .xls file: save it as .xlsx/.xlsm without a password")
    try:
        with zipfile.ZipFile(path) as zf:
            infos, comment = zf.infolist(), zf.comment
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise BookError(f"{name} is not an Excel workbook (.xlsx/.xlsm): {exc}") from None
    if len(infos) > MAX_MEMBERS:
        raise BookError(f"{name} has {len(infos)} zip members, more than the {MAX_MEMBERS} allowed")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_SIZE:
        raise BookError(f"{name} would expand to {total >> 20} MiB, more than the {MAX_TOTAL_SIZE >> 20} MiB allowed")
    members: dict[str, ZipMember] = {}
    lower: dict[str, str] = {}
    order: list[str] = []
    with open(path, "rb") as f:
        for info in infos:
            _check_member(name, info, st.st_size)
            f.seek(info.header_offset)
            local = f.read(30)
            if len(local) < 30 or local[:4] != b"PK\x03\x04":
                raise BookError(f"{name}: zip member {info.filename} has no valid local header")
            n_len, e_len = struct.unpack("<HH", local[26:30])
            enc = "utf-8" if info.flag_bits & 0x800 else "cp437"
            member = ZipMember(info, info.orig_filename.encode(enc), info.header_offset + 30 + n_len + e_len)
            if member.data_offset + info.compress_size > st.st_size:
                raise BookError(f"{name}: zip member {info.filename} runs past the end of the file")
            if info.filename.lower() in lower:
                raise BookError(f"{name}: the zip holds {info.filename} twice")
            members[info.filename] = member
            lower[info.filename.lower()] = info.filename
            order.append(info.filename)
    return ZipDirectory(members, lower, order, comment, (st.st_size, st.st_mtime_ns))


def _check_member(name: str, info: zipfile.ZipInfo, size: int) -> None:
    if info.flag_bits & 0x1:
        raise BookError(f"{name}: zip member {info.filename} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise BookError(f"{name}: zip member {info.filename} uses an unsupported compression method")
    if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise BookError(
            f"{name}: zip member {info.filename} expands more than {MAX_RATIO}:1 (a zip bomb?); refused"
        )
    if info.header_offset + 30 > size:
        raise BookError(f"{name}: zip member {info.filename} lies outside the file")


def read_member(path: Path, member: ZipMember, part: str) -> bytes:
    """Return a member's content, inflated and checked against its size and CRC.

    Args:
        path: the zip file.
        member: the member, from :func:`read_directory` of that file.
        part: its part name, for messages.

    Returns:
        The uncompressed bytes.
    """
    with open(path, "rb") as f:
        f.seek(member.data_offset)
        raw = f.read(member.info.compress_size)
    if member.info.compress_type == zipfile.ZIP_STORED:
        data = raw
    else:
        d = _z.decompressobj(-15)
        try:  # never more than declared: a lying header cannot balloon memory
            data = d.decompress(raw, member.info.file_size + 1)
        except Exception as exc:  # isal and zlib raise different classes
            raise BookError(f"{path.name}: {part} is corrupt ({exc})") from None
        if not d.eof and len(data) <= member.info.file_size:
            raise BookError(f"{path.name}: {part} is truncated")
    if len(data) != member.info.file_size or (_z.crc32(data) & _CRC_MASK) != member.info.CRC:
        raise BookError(f"{path.name}: {part} is corrupt (size or CRC does not match)")
    return data


def iter_member(path: Path, member: ZipMember, part: str, size: int) -> Iterator[bytes]:
    """A member's content inflated piece by piece, checked against its size and CRC at the end.

    A 1,048,575-row sheet is a few hundred megabytes of XML: read by :func:`read_member` it is
    held whole, with its compressed bytes. Read here, at most one piece of each is held at a
    time. As there, never more than the declared size is inflated; the size and CRC are known
    only once the last piece is out, so a caller keeps what it made of the pieces until the
    iterator ends without raising.

    Args:
        path: the zip file.
        member: the member, from :func:`read_directory` of that file.
        part: its part name, for messages.
        size: the most uncompressed bytes in one piece.

    Yields:
        The uncompressed content, in pieces of at most ``size`` bytes (none empty).
    """
    info = member.info
    declared, crc, total = info.file_size, 0, 0
    # Never more than declared + 1 inflated: a lying header cannot balloon memory.
    pieces = member_pieces(str(path), member.data_offset, info.compress_size, info.compress_type, declared, size)
    try:
        while True:
            try:
                piece = next(pieces)
            except StopIteration as end:
                ended = end.value
                break
            except Corrupt as exc:
                raise BookError(f"{path.name}: {part} is corrupt ({exc})") from None
            crc, total = _z.crc32(piece, crc), total + len(piece)
            yield piece
    finally:
        pieces.close()
    if not ended and total <= declared:
        raise BookError(f"{path.name}: {part} is truncated")
    if total != declared or (crc & _CRC_MASK) != info.CRC:
        raise BookError(f"{path.name}: {part} is corrupt (size or CRC does not match)")


def write_zip(
    out: BinaryIO,
    src: BinaryIO,
    src_name: str,
    names: Sequence[str],
    members: Mapping[str, ZipMember],
    changes: Mapping[str, bytes | DeflatedPart],
    comment: bytes,
    progress: Callable[[str], None] | None,
) -> None:
    """Write a zip: each name's new content deflated, or its original member copied raw.

    Args:
        out: the file written, from its start.
        src: the original zip, open for reading.
        src_name: its file name, for messages.
        names: the members to write, in order.
        members: the original members (a name in ``changes`` may be new).
        changes: new content by name (bytes, or already deflated).
        comment: the archive comment.
        progress: called with each member's name before it is written.
    """
    central: list[bytes] = []
    offset = 0
    for name in names:
        fault_point("save:member")
        if progress is not None:
            progress(name)
        m = members.get(name)
        if name in changes:
            data = changes[name]
            if isinstance(data, DeflatedPart):
                comp, crc, usize = data.data, data.crc, data.size
            else:
                comp, crc, usize = deflate(data), _z.crc32(data) & _CRC_MASK, len(data)
            if m is not None:
                info, name_b = m.info, m.name_bytes
                flags = info.flag_bits & 0x800
                dtime, ddate = _dos_time(info.date_time)
                made, extra_c, comment_c, iattr, xattr = _central_bits(info)
            else:
                name_b = name.encode("utf-8")
                flags = 0 if name_b.isascii() else 0x800
                dtime, ddate = _DOS_1980
                made, extra_c, comment_c, iattr, xattr = 20, b"", b"", 0, 0
            local = _local_header(name_b, flags, 8, dtime, ddate, crc, len(comp), usize, b"")
            out.write(local)
            for chunk in comp.chunks() if isinstance(comp, Spill) else (comp,):  # a large part's, from its file
                out.write(chunk)
            central.append(_central_header(name_b, made, flags, 8, dtime, ddate, crc, len(comp), usize,
                                           offset, extra_c, comment_c, iattr, xattr))
            offset += len(local) + len(comp)
            continue
        info = m.info
        if info.flag_bits & 0x8:  # sizes were in a data descriptor: write a clean local header
            central.append(copy_member(out, src, m, src_name))
            offset = out.tell()
            continue
        # the original local header and data, byte for byte
        dtime, ddate = _dos_time(info.date_time)
        made, extra_c, comment_c, iattr, xattr = _central_bits(info)
        written = m.data_offset - info.header_offset + info.compress_size
        _copy(src, out, info.header_offset, written, src_name)
        central.append(_central_header(m.name_bytes, made, info.flag_bits, info.compress_type, dtime, ddate, info.CRC,
                                       info.compress_size, info.file_size, offset, extra_c, comment_c, iattr, xattr))
        offset += written
    end_zip(out, central, comment)


def copy_member(out: BinaryIO, src: BinaryIO, m: ZipMember, src_name: str) -> bytes:
    """Copy a member of ``src`` with its compressed bytes as they are (sizes in its local header,
    never in a data descriptor); return its central directory record (for :func:`end_zip`)."""
    info, offset = m.info, out.tell()
    dtime, ddate = _dos_time(info.date_time)
    made, extra, comment, iattr, xattr = _central_bits(info)
    flags = info.flag_bits & ~0x8  # sizes in the header, not in a data descriptor
    out.write(_local_header(m.name_bytes, flags, info.compress_type, dtime, ddate, info.CRC,
                            info.compress_size, info.file_size, b""))
    _copy(src, out, m.data_offset, info.compress_size, src_name)
    return _central_header(m.name_bytes, made, flags, info.compress_type, dtime, ddate, info.CRC,
                           info.compress_size, info.file_size, offset, extra, comment, iattr, xattr)


def stored_member(out: BinaryIO, m: ZipMember, pieces: Iterable[bytes]) -> bytes:
    """Write ``pieces`` as a stored (uncompressed) member named as ``m``; return its central
    directory record. The local header is written again once the size and CRC are known, so
    ``out`` must be seekable.

    Raises:
        ValueError: the member would need a ZIP64 record (4 GiB or more).
    """
    offset, flags = out.tell(), m.info.flag_bits & 0x800
    dtime, ddate = _dos_time(m.info.date_time)
    head = _local_header(m.name_bytes, flags, 0, dtime, ddate, 0, 0, 0, b"")
    out.write(head)
    crc = size = 0
    for piece in pieces:
        out.write(piece)
        crc, size = _z.crc32(piece, crc), size + len(piece)
    if size >= 0xFFFFFFFF:
        raise ValueError("a stored member of 4 GiB or more needs ZIP64")  # (parts are under 2 GiB)
    end, crc = out.tell(), crc & _CRC_MASK
    out.seek(offset)
    out.write(_local_header(m.name_bytes, flags, 0, dtime, ddate, crc, size, size, b""))
    out.seek(end)
    return _central_header(m.name_bytes, 20, flags, 0, dtime, ddate, crc, size, size, offset, b"", b"", 0, 0)


def end_zip(out: BinaryIO, central: list[bytes], comment: bytes = b"") -> None:
    """End a zip written member by member: its central directory (each member's record, in
    order) and the end records."""
    cd = b"".join(central)
    offset = out.tell()
    out.write(cd)
    out.write(_end_records(len(central), len(cd), offset, comment))


def zip_bytes(parts: Sequence[tuple[str, bytes | DeflatedPart]]) -> bytes:
    """A new zip of ``parts`` in memory, for a package written whole (a statement workbook).

    Each member is deflated (a :class:`DeflatedPart` is stored as it is, so fixed parts are
    deflated once) and dated 1980-01-01 00:00, with no attributes: the same parts always give
    the same bytes.

    Args:
        parts: ``(name, content)`` in the order they are stored.

    Returns:
        The zip's bytes.
    """
    out: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for name, data in parts:
        if not isinstance(data, DeflatedPart):
            data = DeflatedPart(deflate(data), _z.crc32(data) & _CRC_MASK, len(data))
        name_b = name.encode("utf-8")
        flags = 0 if name_b.isascii() else 0x800
        local = _local_header(name_b, flags, 8, *_DOS_1980, data.crc, len(data.data), data.size, b"")
        out += (local, data.data)
        central.append(_central_header(name_b, 20, flags, 8, *_DOS_1980, data.crc, len(data.data), data.size,
                                       offset, b"", b"", 0, 0))
        offset += len(local) + len(data.data)
    cd = b"".join(central)
    return b"".join(out) + cd + _end_records(len(central), len(cd), offset, b"")


# ----------------------------------------------------------------------------- zip records


def _dos_time(dt: tuple[int, ...]) -> tuple[int, int]:
    y, mo, d, h, mi, s = dt
    return (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d


def _central_bits(info: zipfile.ZipInfo) -> tuple[int, bytes, bytes, int, int]:
    """Version made by, central extra without ZIP64 (re-derived), comment, attributes."""
    extra, rest = info.extra, b""
    while len(extra) >= 4:
        hid, size = struct.unpack("<HH", extra[:4])
        if hid != 1:
            rest += extra[: 4 + size]
        extra = extra[4 + size:]
    return (info.create_system << 8) | info.create_version, rest, info.comment, info.internal_attr, info.external_attr


def _local_header(name: bytes, flags: int, method: int, dtime: int, ddate: int, crc: int,
                  csize: int, usize: int, extra: bytes) -> bytes:
    version = 20
    if csize >= _U32 or usize >= _U32:
        extra = struct.pack("<HHQQ", 1, 16, usize, csize) + extra
        csize = usize = 0xFFFFFFFF  # "see the ZIP64 extra field"
        version = 45
    return struct.pack("<4s5H3L2H", b"PK\x03\x04", version, flags, method, dtime, ddate, crc, csize, usize,
                       len(name), len(extra)) + name + extra


def _central_header(name: bytes, made: int, flags: int, method: int, dtime: int, ddate: int, crc: int,
                    csize: int, usize: int, offset: int, extra: bytes, comment: bytes, iattr: int, xattr: int) -> bytes:
    z64 = [v for v in (usize, csize, offset) if v >= _U32]
    version = 20
    if z64:
        extra = struct.pack("<HH", 1, 8 * len(z64)) + b"".join(struct.pack("<Q", v) for v in z64) + extra
        version = 45
        usize, csize, offset = (0xFFFFFFFF if v >= _U32 else v for v in (usize, csize, offset))
    made = (made & 0xFF00) | max(made & 0xFF, version)
    return struct.pack("<4s6H3L5H2L", b"PK\x01\x02", made, version, flags, method, dtime, ddate, crc, csize, usize,
                       len(name), len(extra), len(comment), 0, iattr, xattr, offset) + name + extra + comment


def _end_records(count: int, cd_size: int, cd_offset: int, comment: bytes) -> bytes:
    out = b""
    if count >= _U16 or cd_size >= _U32 or cd_offset >= _U32:
        z64_at = cd_offset + cd_size
        out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64_at, 1)
        count = 0xFFFF if count >= _U16 else count
        cd_size, cd_offset = (0xFFFFFFFF if v >= _U32 else v for v in (cd_size, cd_offset))
    return out + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, cd_size, cd_offset, len(comment)) + comment


def _copy(src: BinaryIO, out: BinaryIO, start: int, length: int, name: str) -> None:
    src.seek(start)
    while length:
        chunk = src.read(min(length, 1 << 20))
        if not chunk:
            raise BookError(f"{name} was truncated while being copied; nothing was written")
        out.write(chunk)
        length -= len(chunk)


# ----------------------------------------------------------------------------- files


def check_not_open(path: str | os.PathLike[str]) -> None:
    """Refuse to touch a workbook that Excel (or LibreOffice) has open.

    Excel keeps an owner file ``~$NAME`` beside an open book (for long names it drops the
    first two characters of NAME); LibreOffice keeps ``.~lock.NAME#``.

    Args:
        path: the workbook.
    """
    p = Path(path)
    name = p.name
    candidates = [("~$" + name, "Excel"), (".~lock." + name + "#", "LibreOffice")]
    if len(name) > 2:
        candidates.insert(1, ("~$" + name[2:], "Excel"))
    for lock, app in candidates:
        if (p.parent / lock).exists():
            raise BookLockedError(
                f"{name} is open in {app} (lock file {lock}); close it and try again, "
                f"or delete {lock} if {app} is not running"
            )


def check_writable(path: str | os.PathLike[str]) -> None:
    """Refuse a workbook that is read-only, or that has other hard links.

    Read-only: the user (or a shared drive) said not to change it. Hard links: the save
    replaces the file atomically, so the other names would silently keep the old content;
    writing in place instead could leave a half-written book after a crash. Neither is worth
    it: the user copies the file and runs on the copy.

    Args:
        path: the workbook (a symbolic link is followed).
    """
    p = Path(os.path.realpath(path))
    st = p.stat()
    if not st.st_mode & 0o222 or not os.access(p, os.W_OK):
        raise BookError(f"{p.name} is read-only; nothing was written (clear its read-only flag to let xl-ar update it)")
    if st.st_nlink > 1:
        raise BookError(f"{p.name} has {st.st_nlink} hard links; xl-ar replaces a workbook as a whole, so the other "
                        "links would keep the old content: work on a copy with one name")


def temp_prefix(target: str | os.PathLike[str]) -> str:
    """The prefix of the temp file a save of ``target`` writes beside it (one per workbook, so a
    run holding the workbook's lock may delete what a killed run of the same workbook left)."""
    name = Path(target).name
    return f".~xl-ar-{hashlib.sha256(name.encode('utf-8', 'surrogatepass')).hexdigest()[:10]}-"


@contextlib.contextmanager
def run_lock(path: str | os.PathLike[str]) -> Iterator[None]:
    """Hold the xl-ar lock of a workbook while it is written: a second run refuses clearly.

    The lock is an advisory ``flock`` on ``.~xl-ar-lock.NAME`` beside the workbook, released by
    the system when the process ends however it ends, so a killed run never blocks the next
    one. The holder deletes the file before releasing it; a run that locked a file someone
    deleted meanwhile sees it is no longer the one on disk and refuses as busy.

    Args:
        path: the real workbook file.
    """
    p = Path(path)
    lock = p.parent / f".~xl-ar-lock.{p.name}"
    busy = BookLockedError(f"{p.name} is being updated by another xl-ar run; wait for it to finish and run again")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise BookError(f"{p.name}: cannot create the lock file {lock.name} ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if os.fstat(fd).st_ino != os.stat(lock).st_ino:
                raise busy
        except (BlockingIOError, FileNotFoundError):
            raise busy from None
        try:
            yield
        finally:
            lock.unlink(missing_ok=True)
    finally:
        os.close(fd)


def backup(
    path: str | os.PathLike[str],
    *,
    backup_dir: str | os.PathLike[str] | None = None,
    keep: int = KEEP_BACKUPS,
    now: datetime | None = None,
) -> Path:
    """Copy a workbook to ``NAME.YYYYmmdd-HHMMSS.ext`` in a backups folder; keep the newest ones.

    Args:
        path: the workbook.
        backup_dir: the folder (default ``.xl-ar-backups`` beside the workbook).
        keep: how many backups of this workbook to keep; older ones are deleted.
        now: the timestamp to use (default: the local time now).

    Returns:
        The backup's path.
    """
    p = Path(path)
    folder = Path(backup_dir) if backup_dir is not None else p.parent / BACKUP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    stamp = (now or datetime.now()).strftime("%Y%m%d-%H%M%S")
    dest, k = folder / f"{p.stem}.{stamp}{p.suffix}", 1
    while dest.exists():  # two backups in one second
        dest, k = folder / f"{p.stem}.{stamp}-{k}{p.suffix}", k + 1
    # Copied under a temporary name, then renamed: a run killed while copying leaves no
    # truncated file that looks like a backup (and would push a good one out of the rotation).
    partial = folder / f".~{dest.name}.partial"
    for stale in folder.glob(f".~{glob.escape(p.stem)}.*.partial"):
        stale.unlink(missing_ok=True)
    try:
        shutil.copy2(p, partial)
        fault_point("save:backup")
        os.replace(partial, dest)
        fault_point("save:backed-up")
    except OSError as exc:
        partial.unlink(missing_ok=True)
        dest.unlink(missing_ok=True)
        raise BookError(f"the backup of {p.name} could not be written ({exc.strerror or exc}); "
                        "nothing was written") from None
    pat = re.compile(re.escape(p.stem) + r"\.(\d{8}-\d{6})(?:-(\d+))?" + re.escape(p.suffix) + "$")
    ours = sorted(
        ((m.group(1), int(m.group(2) or 0)), f) for f in folder.iterdir() if (m := pat.match(f.name))
    )
    for _, old in ours[: max(len(ours) - keep, 0)]:
        old.unlink()
    return dest

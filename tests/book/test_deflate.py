"""Deflating a part from pieces: the same bytes as deflating it whole, compared on the way."""

from __future__ import annotations

import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xl_ar.book.deflate import SMALL, DeflatedPart, deflate, deflate_pieces, z

pieces_st = st.lists(st.binary(max_size=300), max_size=40)


@given(pieces_st)
def test_pieces_inflate_to_their_concatenation(pieces):
    whole = b"".join(pieces)
    part = deflate_pieces(list(pieces))
    assert part.inflate() == whole
    assert part.size == len(whole)
    assert part.crc == z.crc32(whole) & 0xFFFFFFFF
    assert part.same is None


@given(pieces_st, st.binary(max_size=2000))
def test_same_is_exact_equality_with_the_original(pieces, other):
    whole = b"".join(pieces)
    assert deflate_pieces(list(pieces), original=whole).same is True
    assert deflate_pieces(iter(pieces), original=other).same is (other == whole)


def test_a_list_is_released_as_it_is_deflated():
    pieces = [b"<row>", memoryview(b"abc"), b"</row>"]
    part = deflate_pieces(pieces, original=b"<row>abc</row>")
    assert pieces == [] and part.same is True
    assert DeflatedPart(deflate(b"<row>abc</row>"), part.crc, part.size).inflate() == b"<row>abc</row>"


def _zlib_level_1(data: bytes) -> bytes:
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


@given(pieces_st)
def test_a_small_part_is_zlibs_stream_whole_or_in_pieces(pieces):
    """Under SMALL the stream is zlib's: a function of the bytes alone, the same every run."""
    whole = b"".join(pieces)
    assert deflate(whole) == _zlib_level_1(whole)
    assert bytes(deflate_pieces(list(pieces)).data) == _zlib_level_1(whole)


def test_a_part_past_small_is_whole_and_compared_across_the_switch():
    row = b'<row r="1"><c r="A1" t="s"><v>12</v></c><c r="B1"><v>3.25</v></c></row>'
    pieces = [row] * (SMALL // len(row) + 500)
    whole = b"".join(pieces)
    original = whole[:-1] + b"!"
    part = deflate_pieces(list(pieces), original=original)
    assert part.size == len(whole) > SMALL
    assert part.inflate() == whole
    assert part.crc == zlib.crc32(whole) & 0xFFFFFFFF
    assert part.same is False
    assert deflate_pieces(iter(pieces), original=whole).same is True
    assert DeflatedPart(deflate(whole), part.crc, part.size).inflate() == whole


def test_a_large_stream_waits_in_a_file_without_a_name(tmp_path, monkeypatch):
    from xl_ar.book import deflate as module

    monkeypatch.setattr(module, "SMALL", 1000)
    pieces = [b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (i, i, i * 7) for i in range(2000)]
    whole = b"".join(pieces)
    part = deflate_pieces(list(pieces), original=whole, spill=tmp_path)
    assert isinstance(part.data, module.Spill) and list(tmp_path.iterdir()) == []
    assert part.inflate() == whole and part.same is True and part.size == len(whole)
    assert b"".join(part.data.chunks(size=100)) == b"".join(part.data.chunks())  # read again from the start
    assert len(part.data) == len(b"".join(part.data.chunks()))
    small = deflate_pieces([b"<row/>"], spill=tmp_path)  # under SMALL: zlib's stream, in memory
    assert isinstance(small.data, bytes | bytearray) and small.inflate() == b"<row/>"
    gone = deflate_pieces(list(pieces), spill=tmp_path / "no such folder")  # no file there: in memory
    assert isinstance(gone.data, bytearray) and gone.inflate() == whole


@given(pieces_st, st.binary(max_size=2000), st.integers(1, 700), st.integers(1, 400))
def test_deflated_beside_it_is_the_same_content_crc_and_comparison(pieces, other, chunk, small):
    """On the helper thread, in blocks of any size: the content, its CRC and size, and the
    comparison are those of the plain path; a part that ends before SMALL is zlib's stream."""
    import tempfile
    from pathlib import Path

    from xl_ar.book import deflate as module

    whole = b"".join(pieces)
    saved = module.CHUNK, module.SMALL
    module.CHUNK, module.SMALL = chunk, small
    try:
        with tempfile.TemporaryDirectory() as folder:
            part = deflate_pieces(list(pieces), original=whole, spill=Path(folder), beside=True)
            assert part.inflate() == whole
            assert part.size == len(whole) and part.crc == zlib.crc32(whole) & 0xFFFFFFFF
            assert part.same is True
            if len(whole) < small:
                assert bytes(part.data) == _zlib_level_1(whole)
            else:
                assert isinstance(part.data, module.Spill)
                assert zlib.decompressobj(-15).decompress(b"".join(part.data.chunks(size=7))) == whole
            assert deflate_pieces(iter(pieces), original=other, spill=Path(folder), beside=True).same is (other == whole)
    finally:
        module.CHUNK, module.SMALL = saved


def test_a_gzip_file_is_windowed_onto_its_stream_whatever_its_header_holds(tmp_path):
    """RFC 1952's optional header fields (extra, name, comment, header CRC) are stepped over."""
    import struct

    from xl_ar.book import deflate as module

    content = b"<row>" * 5000
    c = zlib.compressobj(1, zlib.DEFLATED, -15)
    stream = c.compress(content) + c.flush()
    trailer = struct.pack("<II", zlib.crc32(content), len(content))
    for flags, fields in [(0, b""), (0x04, struct.pack("<H", 3) + b"abc"), (0x08, b"sheet.xml\0"),
                          (0x18, b"name\0comment\0"), (0x02, b"\x12\x34"), (0x1E, struct.pack("<H", 1) + b"x" + b"n\0c\0\x00\x00")]:
        spill = module.Spill(tmp_path)
        spill += b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\xff" + fields + stream + trailer
        assert module._gzip_body(spill, len(content)) == zlib.crc32(content)
        assert b"".join(spill.chunks(size=100)) == stream and len(spill) == len(stream)
    spill = module.Spill(tmp_path)
    spill += b"PK\x03\x04" + bytes(20)
    with pytest.raises(ValueError, match="no gzip stream"):
        module._gzip_body(spill, 5)


def test_deflated_beside_a_failure_while_the_pieces_are_made_stops_the_helper(tmp_path, monkeypatch):
    import threading

    from xl_ar.book import deflate as module

    monkeypatch.setattr(module, "SMALL", 100)
    monkeypatch.setattr(module, "CHUNK", 1000)
    before = threading.active_count()

    def pieces():
        for i in range(5000):
            yield b"<row>%d</row>" % i
        raise ValueError("a block the splice cannot take")

    with pytest.raises(ValueError, match="cannot take"):
        deflate_pieces(pieces(), spill=tmp_path, beside=True)
    assert threading.active_count() == before

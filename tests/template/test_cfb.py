"""Tests of the MS-CFB writer, read back with olefile in strict mode."""

from __future__ import annotations

import struct

import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xl_ar.template.cfb import (
    ENDOFCHAIN,
    NOSTREAM,
    cfb_name_key,
    write_compound_file,
)

RED, BLACK = 0, 1


def spec_key(name: str):
    """MS-CFB 2.6.4 order, written independently of the writer: shorter names
    first, then code point by code point after upper-casing."""
    return len(name), [ord(c.upper()) if len(c.upper()) == 1 else ord(c) for c in name]


def open_strict(data: bytes) -> olefile.OleFileIO:
    """Open with olefile raising on every defect, potential ones included."""
    return olefile.OleFileIO(data, raise_defects=olefile.DEFECT_POTENTIAL)


def streams_of(tree, prefix=()):
    """{path tuple: bytes} of every stream in a nested-dict tree."""
    out = {}
    for name, value in tree.items():
        if isinstance(value, dict):
            out.update(streams_of(value, prefix + (name,)))
        else:
            out[prefix + (name,)] = value
    return out


def check_round_trip(tree) -> olefile.OleFileIO:
    data = write_compound_file(tree)
    assert len(data) % 512 == 0
    ole = open_strict(data)
    expected = streams_of(tree)
    assert sorted(tuple(p) for p in ole.listdir(streams=True, storages=False)) == sorted(expected)
    for path, content in expected.items():
        assert ole.openstream(list(path)).read() == content, path
        assert ole.get_size(list(path)) == len(content)
    check_red_black_trees(ole)
    return ole


def check_red_black_trees(ole: olefile.OleFileIO) -> None:
    """Every storage's children form a valid red-black BST under 2.6.4 ordering."""
    entries = ole.direntries

    def walk(sid, low, high):
        """Returns (black height, names in order); checks order and colours."""
        if sid == NOSTREAM:
            return 1, []
        e = entries[sid]
        key = spec_key(e.name)
        assert (low is None or low < key) and (high is None or key < high), e.name
        for kid in (e.sid_left, e.sid_right):
            if e.color == RED and kid != NOSTREAM:
                assert entries[kid].color == BLACK, f"red {e.name} has a red child"
        left_height, left_names = walk(e.sid_left, low, key)
        right_height, right_names = walk(e.sid_right, key, high)
        assert left_height == right_height, f"unequal black heights under {e.name}"
        return left_height + (e.color == BLACK), left_names + [e.name] + right_names

    for e in entries:
        if e is not None and e.entry_type in (olefile.STGTY_ROOT, olefile.STGTY_STORAGE):
            if e.sid_child != NOSTREAM:
                assert entries[e.sid_child].color == BLACK, "tree root must be black"
            _, names = walk(e.sid_child, None, None)
            assert names == sorted(names, key=spec_key)
            assert sorted(names) == sorted(kid.name for kid in e.kids)


def test_vba_project_layout_round_trips():
    tree = {
        "PROJECT": b'ID="{00000000-0000-0000-0000-000000000000}"\r\n',
        "PROJECTwm": b"M\x00M\x00\x00\x00\x00\x00",
        "VBA": {"_VBA_PROJECT": bytes.fromhex("CC61FFFF000000"), "dir": b"\x01" * 900, "M": b"x" * 5000},
    }
    ole = check_round_trip(tree)
    assert ole.listdir(streams=False, storages=True) == [["VBA"]]
    assert ole.get_type("VBA") == olefile.STGTY_STORAGE


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 511, 512, 513, 4095, 4096, 4097, 100_000])
def test_stream_sizes(size):
    content = bytes((i * 7 + size) & 0xFF for i in range(size))
    check_round_trip({"S": content, "other": b"abc"})


def test_mini_stream_cutoff():
    """Streams < 4096 bytes live in the mini stream, >= 4096 in regular sectors."""
    ole = check_round_trip({"mini": b"m" * 4095, "big": b"b" * 4096, "empty": b""})
    by_name = {e.name: e for e in ole.direntries if e is not None}
    assert by_name["mini"].is_minifat
    assert not by_name["big"].is_minifat
    assert by_name["empty"].isectStart == ENDOFCHAIN and by_name["empty"].size == 0
    assert by_name["Root Entry"].size == 4096  # the mini stream: 64 mini sectors


def test_only_big_streams_has_no_mini_stream():
    ole = check_round_trip({"big": b"b" * 10_000})
    assert ole.root.isectStart == ENDOFCHAIN and ole.root.size == 0
    assert ole.minifatsect == ENDOFCHAIN


def test_empty_file():
    ole = check_round_trip({})
    assert ole.listdir() == []


def test_many_entries_need_several_directory_sectors():
    vba = {f"Module{i}": f"source {i}\r\n".encode() * (i + 1) for i in range(60)}
    tree = {"PROJECT": b"p", "VBA": vba, "Deep": {"Deeper": {"x": b"1", "y": b"2" * 5000}}}
    data = write_compound_file(tree)
    ole = check_round_trip(tree)
    assert len([e for e in ole.direntries if e is not None]) == 1 + 2 + 60 + 1 + 1 + 2
    # Follow the directory chain in the FAT: 68 entries at 4 per sector.
    chain, sector = [], ole.first_dir_sector
    while sector != ENDOFCHAIN:
        chain.append(sector)
        sector = ole.fat[sector]
    assert len(chain) == 17
    assert data == write_compound_file(tree)


@pytest.mark.parametrize("count", list(range(1, 34)) + [63, 64, 100])
def test_red_black_tree_for_every_sibling_count(count):
    names = [f"s{i:03d}" if i % 3 else f"LongerName{i}" for i in range(count)]
    check_round_trip({name: name.encode() for name in names})


def test_sort_order_is_length_then_uppercase():
    assert cfb_name_key("dir") < cfb_name_key("VBA")  # D < V once upper-cased
    assert cfb_name_key("Z") < cfb_name_key("aa")  # shorter first
    assert cfb_name_key("abc") < cfb_name_key("ABD")  # case-insensitive
    assert cfb_name_key("abc")[1] == cfb_name_key("ABC")[1]
    assert cfb_name_key("stra\u00dfe") < cfb_name_key("STRASSE")  # no full case mapping
    check_round_trip({"b": b"1", "A": b"2", "_VBA_PROJECT": b"3", "dir": b"4", "Zz": b"5", "\u00e9t\u00e9": b"6"})


def test_more_than_109_fat_sectors_uses_difat_sectors():
    big = bytes(range(256)) * (7_500_000 // 256)  # > 109 * 128 sectors of 512 bytes
    ole = check_round_trip({"big": big, "small": b"s"})
    assert ole.num_fat_sectors > 109
    assert ole.num_difat_sectors >= 1


def test_header_fields():
    data = write_compound_file({"a": b"x"})
    assert data[:8] == bytes.fromhex("D0CF11E0A1B11AE1")
    assert data[8:24] == bytes(16)
    minor, major, bom, shift, mini_shift = struct.unpack_from("<5H", data, 24)
    assert (minor, major, bom, shift, mini_shift) == (0x3E, 3, 0xFFFE, 9, 6)
    assert data[34:40] == bytes(6)
    n_dir, n_fat, _, transaction, cutoff = struct.unpack_from("<5I", data, 40)
    assert (n_dir, transaction, cutoff) == (0, 0, 4096)
    assert n_fat == 1


def test_entries_have_zero_clsid_and_timestamps():
    ole = open_strict(write_compound_file({"S": b"1", "T": {"U": b"2"}}))
    ole.listdir()
    for e in ole.direntries:
        if e is not None:
            assert e.clsid == "" and e.createTime == 0 and e.modifyTime == 0


def test_deterministic_and_independent_of_dict_order():
    a = {"PROJECT": b"p", "VBA": {"dir": b"d", "M1": b"1", "M2": b"2"}, "PROJECTwm": b"w"}
    b = {"PROJECTwm": b"w", "VBA": {"M2": b"2", "M1": b"1", "dir": b"d"}, "PROJECT": b"p"}
    assert write_compound_file(a) == write_compound_file(b)


def test_accepts_bytearray_and_memoryview():
    check = open_strict(write_compound_file({"a": bytearray(b"xy"), "b": memoryview(b"zz")}))
    assert check.openstream("a").read() == b"xy" and check.openstream("b").read() == b"zz"


@pytest.mark.parametrize(
    "tree, message",
    [
        ({"x" * 32: b""}, "longer than 31"),
        ({"a/b": b""}, "forbidden"),
        ({"a!": b""}, "forbidden"),
        ({"": b""}, "non-empty"),
        ({"Dir": b"", "DIR": b""}, "differ only in case"),
        ({"s": {"Dir": b"", "dir": {}}}, "differ only in case"),
    ],
)
def test_invalid_names_raise(tree, message):
    with pytest.raises(ValueError, match=message):
        write_compound_file(tree)


def test_name_of_31_characters_is_allowed():
    check_round_trip({"x" * 31: b"ok"})


def test_non_bytes_value_raises():
    with pytest.raises(TypeError, match="bytes"):
        write_compound_file({"a": "text"})


def _unique_ignoring_case(tree) -> bool:
    keys = [cfb_name_key(name) for name in tree]
    return len(keys) == len(set(keys)) and all(
        _unique_ignoring_case(v) for v in tree.values() if isinstance(v, dict)
    )


_names = st.text(st.sampled_from("abcAB_z\u00e9\u00c9 9"), min_size=1, max_size=31)
_streams = st.one_of(st.binary(max_size=300), st.integers(0, 9000).map(lambda n: bytes([n % 251]) * n))
_trees = st.recursive(
    st.dictionaries(_names, _streams, max_size=6),
    lambda children: st.dictionaries(_names, st.one_of(_streams, children), max_size=6),
    max_leaves=30,
).filter(_unique_ignoring_case)


@settings(max_examples=80, deadline=None)
@given(_trees)
def test_property_random_trees_round_trip(tree):
    check_round_trip(tree)
    assert write_compound_file(tree) == write_compound_file(dict(reversed(list(tree.items()))))

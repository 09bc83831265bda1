"""Tests of the MS-OVBA writer: compression, encryption, streams, whole project.

Compression is checked against oletools' independent decompressor, and the
whole ``vbaProject.bin`` is read back by olefile (strict) and by olevba with
``relaxed=False``, which raises on any dir-stream value off the spec.
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import olefile
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

with warnings.catch_warnings():  # oletools' pyparsing deprecation noise at import
    warnings.simplefilter("ignore", DeprecationWarning)
    from oletools.olevba import VBA_Parser, VBA_Project, decompress_stream

from xl_ar.template.ovba import (
    VBA_PROJECT_STREAM,
    Module,
    build_dir_stream,
    build_vba_project,
    compress,
    decompress,
    decrypt_data,
    encrypt_data,
    normalise_source,
    project_id_for,
)

# ---------------------------------------------------------------- compression


def oletools_decompress(container: bytes) -> bytes:
    return bytes(decompress_stream(bytearray(container)))


def chunks(container: bytes) -> list[tuple[int, int]]:
    """(flag, total size) of each CompressedChunk, checking the header format."""
    out, pos = [], 1
    assert container[0] == 0x01
    while pos < len(container):
        (header,) = struct.unpack_from("<H", container, pos)
        assert (header >> 12) & 0b111 == 0b011
        size = (header & 0x0FFF) + 3
        out.append((header >> 15, size))
        pos += size
    assert pos == len(container)
    return out


def assert_round_trip(data: bytes) -> bytes:
    container = compress(data)
    assert decompress(container) == data
    assert oletools_decompress(container) == data
    for flag, size in chunks(container):
        assert size <= 4098 and (flag or size == 4098)
    return container


VBA_LINE = 'If ws.Range("A1").Value = "x" Then MsgBox "Total: " & CStr(i)\r\n'


def vba_text(length: int) -> bytes:
    return (VBA_LINE * (length // len(VBA_LINE) + 1)).encode()[:length]


@pytest.mark.parametrize(
    "data",
    [b"", b"a", b"ab", b"abc", b"aaaa", b"abcabcabcabc"],
    ids=["empty", "1", "2", "3", "run", "period"],
)
def test_small_round_trips(data):
    assert_round_trip(data)


def test_empty_container_is_signature_only():
    assert compress(b"") == b"\x01"


@pytest.mark.parametrize("length", [671, 672, 673, 1000, 4095, 4096, 4097, 8192, 8193, 12289])
def test_boundary_lengths_round_trip(length):
    """672 bytes broke ms-ovba; 4096 is the chunk size."""
    assert_round_trip(vba_text(length))
    rnd = random.Random(length)
    assert_round_trip(bytes(rnd.choice(b"ab \r\n") for _ in range(length)))


def test_exactly_one_chunk_and_one_more():
    assert len(chunks(assert_round_trip(vba_text(4096)))) == 1
    assert len(chunks(assert_round_trip(vba_text(4097)))) == 2


def test_large_repetitive_text():
    data = vba_text(200_000)
    container = assert_round_trip(data)
    assert len(container) < len(data) // 10


def test_large_random_text():
    rnd = random.Random(42)
    words = ["Dim", "As", "Long", "If", "Then", "End", "Sub", "x", "=", "(", ")", "\r\n", "    "]
    assert_round_trip(" ".join(rnd.choice(words) for _ in range(40_000)).encode()[:200_000])
    # Letters drawn uniformly barely repeat: most chunks are stored raw.
    letters = bytes(rnd.choice(b"abcdefghijklmnopqrstuvwxyz ") for _ in range(200_000))
    container = assert_round_trip(letters)
    assert (0, 4098) in chunks(container)


def test_random_bytes_with_full_raw_chunks():
    data = random.Random(7).randbytes(3 * 4096)
    container = assert_round_trip(data)
    assert chunks(container) == [(0, 4098)] * 3


def test_incompressible_short_last_chunk_is_padded_as_the_spec_says():
    """2.4.1.3.10: a raw chunk always carries 4096 bytes, so a final raw chunk
    shorter than that is padded with zeros, which decompress as data."""
    data = random.Random(3).randbytes(4000)
    container = compress(data)
    assert chunks(container) == [(0, 4098)]
    expected = data + bytes(96)
    assert decompress(container) == expected == oletools_decompress(container)


def test_spec_example_normal_compression():
    """MS-OVBA 3.2.2 Normal Compression Example, byte for byte."""
    text = b"#aaabcdefaaaaghijaaaaaklaaamnopqaaaaaaaaaaaarstuvwxyzaaa"
    expected = bytes.fromhex(
        "01 2F B0 00 23 61 61 61 62 63 64 65 82 66 00 70 61 67 68 69 6A 01 38 08 61"
        " 6B 6C 00 20 6D 6E 6F 70 06 71 02 70 04 00 72 73 74 75 76 10 77 78 79 7A 00 2C"
    )
    assert compress(text) == expected
    assert decompress(expected) == text


def test_spec_example_no_compression():
    """MS-OVBA 3.2.1: no repeats, so literal tokens only."""
    text = b"abcdefghijklmnopqrstuv."
    expected = bytes.fromhex("01 19 B0 00") + b"abcdefgh\x00ijklmnop\x00qrstuv."
    assert compress(text) == expected
    assert decompress(expected) == text


def test_long_match_is_capped_by_maximum_length():
    """Far into a chunk the offset takes 12 bits and a match at most 18 bytes."""
    data = random.Random(5).randbytes(2500) + b"q" * 1596
    assert_round_trip(data)


@pytest.mark.parametrize(
    "bad, message",
    [(b"", "SignatureByte"), (b"\x02", "SignatureByte"), (b"\x01\x00\x00", "ChunkSignature"),
     (b"\x01\x02\xb0\x01\x00\x00", "start of a chunk"),
     (b"\x01\x03\xb0\x02a\x00\x10", "before its chunk")],
)
def test_decompress_rejects_malformed_input(bad, message):
    with pytest.raises(ValueError, match=message):
        decompress(bad)


def padded(data: bytes, out: bytes) -> bool:
    """True if ``out`` is ``data``, plus zeros only where the spec pads."""
    tail = len(data) % 4096
    if tail == 0 or tail <= 3640:  # such a final chunk always fits compressed
        return out == data
    return out[: len(data)] == data and not any(out[len(data) :])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=9000))
def test_property_binary_round_trip(data):
    container = compress(data)
    out = decompress(container)
    assert padded(data, out)
    assert oletools_decompress(container) == out


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(3000, 13000), st.sampled_from([2, 3, 8, 40, 256]))
def test_property_large_inputs_round_trip(seed, length, alphabet):
    """Multi-chunk inputs from nearly constant to incompressible."""
    rnd = random.Random(seed)
    data = bytes(rnd.randrange(alphabet) for _ in range(length))
    container = compress(data)
    out = decompress(container)
    assert padded(data, out)
    assert oletools_decompress(container) == out


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(["a", "b", "Sub ", "End Sub", "\r\n", "    ", "x = x + 1", "\u00e9"]),
        max_size=3000,
    )
)
def test_property_text_round_trip(parts):
    data = "".join(parts).encode("cp1252")
    container = compress(data)
    assert decompress(container) == data
    assert oletools_decompress(container) == data


@settings(max_examples=100, deadline=None)
@given(st.text(st.characters(codec="cp1252"), max_size=6000))
def test_property_cp1252_text_round_trip(text):
    data = text.encode("cp1252")
    container = compress(data)
    out = decompress(container)
    assert padded(data, out)
    assert oletools_decompress(container) == out


# ---------------------------------------------------------------- encryption

PROJECT_ID = "{917DED54-440B-4FD1-A5C1-74ACF261E600}"


@pytest.mark.parametrize("seed", range(256))
def test_encryption_round_trip_every_seed(seed):
    for data in (b"\x00\x00\x00\x00", b"\x00", b"\xff", b"password\x00"):
        text = encrypt_data(data, PROJECT_ID, seed, b"\x12\x34\x56")
        assert decrypt_data(text, PROJECT_ID) == data
        assert len(text) == 2 * (3 + (seed & 6) // 2 + 4 + len(data))


def test_encryption_checks_version_and_key():
    text = encrypt_data(b"\x00", PROJECT_ID, 0x5A)
    with pytest.raises(ValueError, match="ProjKey"):
        decrypt_data(text, "{00000000-0000-0000-0000-000000000000}")
    broken = text[:2] + format(int(text[2:4], 16) ^ 1, "02X") + text[4:]
    with pytest.raises(ValueError, match="Version"):
        decrypt_data(broken)


# ---------------------------------------------------------------- whole project

DICTIONARY_CLS = """VERSION 1.0 CLASS
BEGIN
  MultiUse = -1  'True
END
Attribute VB_Name = "Dictionary"
Attribute VB_GlobalNameSpace = False
Attribute VB_Creatable = False
Attribute VB_PredeclaredId = False
Attribute VB_Exposed = False
Option Explicit
Private KeyValuePairs As Collection

Public Property Get Item(Key As Variant) As Variant
Attribute Item.VB_UserMemId = 0
    Item = KeyValuePairs(CStr(Key))
End Property
"""

RIBBON_BAS = """Option Explicit

Public Sub OnRefresh(control As IRibbonControl)
    ' Shortcut for "Refresh": caf\u00e9 \u20ac 100
    Application.Run "xl_ar_refresh"
End Sub
"""

MODULES = [
    Module("ThisWorkbook", "Option Explicit\n\nPrivate Sub Workbook_Open()\nEnd Sub\n", "document"),
    Module("Sheet1", "", "document"),
    Module("RibbonCallbacks", RIBBON_BAS, "standard"),
    Module("Dictionary", DICTIONARY_CLS, "class"),
    # Long enough that even compressed it lives in regular sectors, not the mini stream.
    Module("Big", "".join(f'    Debug.Print "row {i}", {i * 7919 % 10007}\r\n' for i in range(1500)), "standard"),
]


def body_of(source: str) -> str:
    """What the module's code is once the exported header is removed."""
    lines = source.replace("\r\n", "\n").split("\n")
    if lines and lines[0].startswith("VERSION"):
        lines = lines[lines.index("END") + 1 :]
    while lines and re.match(r"Attribute VB_\w+ = ", lines[0]):
        lines.pop(0)
    text = "\r\n".join(lines)
    return text if text.endswith("\r\n") or not text else text + "\r\n"


def strip_attribute_header(code: str) -> str:
    """olevba keeps the Attribute lines in extract_macros(); drop the header ones."""
    lines = code.split("\r\n")
    while lines and lines[0].startswith("Attribute VB_"):
        lines.pop(0)
    return "\r\n".join(lines)


@pytest.fixture(scope="module")
def project() -> bytes:
    return build_vba_project(MODULES)


def test_container_lists_exactly_the_expected_streams(project):
    ole = olefile.OleFileIO(project, raise_defects=olefile.DEFECT_POTENTIAL)
    expected = [["PROJECT"], ["PROJECTwm"]] + sorted(
        [["VBA", "_VBA_PROJECT"], ["VBA", "dir"]] + [["VBA", m.name] for m in MODULES]
    )
    assert sorted(ole.listdir()) == sorted(expected)
    assert ole.openstream("VBA/_VBA_PROJECT").read() == VBA_PROJECT_STREAM == bytes.fromhex("CC61FFFF000000")


def test_module_streams_hold_only_compressed_source(project):
    ole = olefile.OleFileIO(project, raise_defects=olefile.DEFECT_POTENTIAL)
    for module in MODULES:
        stream = ole.openstream(f"VBA/{module.name}").read()
        assert stream[0] == 0x01  # MODULEOFFSET 0: the CompressedContainer starts at once
        assert decompress(stream) == normalise_source(module).encode("cp1252")
    assert len(ole.openstream("VBA/Big").read()) >= 4096  # a regular (non-mini) stream


def test_olevba_strict_parse_of_dir_stream(project):
    """olevba's VBA_Project with relaxed=False raises on any dir value off the
    spec (extract_macros() would only log it), so parse that way explicitly."""
    parser = VBA_Parser("vbaProject.bin", data=project, relaxed=False)
    [(vba_root, project_path, dir_path)] = parser.find_vba_projects()
    assert (vba_root, project_path, dir_path) == ("", "PROJECT", "VBA/dir")
    vba_project = VBA_Project(parser.ole_file, vba_root, project_path, dir_path, relaxed=False)
    vba_project.parse_project_stream()
    modules = [(path, filename) for path, filename, _ in vba_project.parse_modules()]
    ext = {"document": "cls", "class": "cls", "standard": "bas"}
    assert modules == [(f"VBA/{m.name}", f"{m.name}.{ext[m.kind]}") for m in MODULES]
    assert [m.streamname for m in vba_project.modules] == [m.name for m in MODULES]
    assert [m.type for m in vba_project.modules] == [0x21 if m.kind == "standard" else 0x22 for m in MODULES]
    assert vba_project.codepage == 1252 and vba_project.projectname == "VBAProject"


def test_olevba_reads_every_module_verbatim(project):
    """extract_macros() returns each module's text with its Attribute lines
    (olevba only strips them in filter_vba(), for display)."""
    parser = VBA_Parser("vbaProject.bin", data=project, relaxed=False)
    extracted = list(parser.extract_macros())
    macros = {vba_filename: (stream_path, code) for _, stream_path, vba_filename, code in extracted}
    assert len(extracted) == len(MODULES)  # no orphan or duplicate streams
    ext = {"document": "cls", "class": "cls", "standard": "bas"}
    assert sorted(macros) == sorted(f"{m.name}.{ext[m.kind]}" for m in MODULES)
    for module in MODULES:
        stream_path, code = macros[f"{module.name}.{ext[module.kind]}"]
        assert stream_path == f"VBA/{module.name}"
        assert code == normalise_source(module)
        assert code.startswith(f'Attribute VB_Name = "{module.name}"\r\n')
        assert code.count("Attribute VB_Name") == 1
        assert strip_attribute_header(code) == body_of(module.source)


def test_project_stream(project):
    ole = olefile.OleFileIO(project)
    text = ole.openstream("PROJECT").read().decode("cp1252")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    project_id = project_id_for("VBAProject")
    assert lines[0] == f'ID="{project_id}"'
    assert lines[1:6] == [
        "Document=ThisWorkbook/&H00000000",
        "Document=Sheet1/&H00000000",
        "Module=RibbonCallbacks",
        "Class=Dictionary",
        "Module=Big",
    ]
    assert lines[6:9] == ['Name="VBAProject"', 'HelpContextID="0"', 'VersionCompatible32="393222000"']
    values = dict(line.split("=", 1) for line in lines[9:12])
    assert decrypt_data(values["CMG"].strip('"'), project_id) == bytes(4)
    assert decrypt_data(values["DPB"].strip('"'), project_id) == b"\x00"
    assert decrypt_data(values["GC"].strip('"'), project_id) == b"\xff"
    assert 22 <= len(values["CMG"]) - 2 <= 28 and 16 <= len(values["DPB"]) - 2 <= 22
    assert 16 <= len(values["GC"]) - 2 <= 22
    assert lines[12:16] == [
        "",
        "[Host Extender Info]",
        "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000",
        "",
    ]
    assert lines[16] == "[Workspace]"
    assert lines[17:-1] == [f"{m.name}=0, 0, 0, 0, C" for m in MODULES]


def test_projectwm_stream(project):
    ole = olefile.OleFileIO(project)
    expected = b"".join(m.name.encode() + b"\0" + m.name.encode("utf-16-le") + b"\0\0" for m in MODULES)
    assert ole.openstream("PROJECTwm").read() == expected + b"\0\0"


def dir_records(data: bytes) -> list[tuple[int, bytes]]:
    """(id, payload) of every dir record; PROJECTVERSION's Size field is 4
    although 6 bytes follow (2.3.4.2.1.11)."""
    records, pos = [], 0
    while pos < len(data):
        record_id, size = struct.unpack_from("<HI", data, pos)
        size = 6 if record_id == 0x0009 else size
        records.append((record_id, data[pos + 6 : pos + 6 + size]))
        pos += 6 + size
    assert pos == len(data)
    return records


def test_dir_stream_records(project):
    ole = olefile.OleFileIO(project)
    data = decompress(ole.openstream("VBA/dir").read())
    assert data == build_dir_stream(MODULES, "VBAProject")
    records = dir_records(data)
    ids = [r[0] for r in records]
    u32 = {i: struct.unpack("<I", p)[0] for i, p in records if len(p) == 4}
    assert ids[:4] == [0x0001, 0x0002, 0x0014, 0x0003]
    assert u32[0x0002] == u32[0x0014] == 0x409
    assert dict(records)[0x0003] == struct.pack("<H", 1252)
    assert dict(records)[0x0004] == b"VBAProject"
    libids = [p[4:-6].decode() for i, p in records if i == 0x000D]
    assert libids[0].startswith(r"*\G{00020430-0000-0000-C000-000000000046}#2.0#0#")
    assert libids[1].startswith(r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0#")
    assert libids[1].endswith("#Microsoft Office 16.0 Object Library")
    assert [p for i, p in records if i == 0x0016] == [b"stdole", b"Office"]
    assert dict(records)[0x000F] == struct.pack("<H", len(MODULES))
    assert dict(records)[0x0013] == b"\xff\xff"
    assert [p.decode() for i, p in records if i == 0x0019] == [m.name for m in MODULES]
    assert [p.decode("utf-16-le") for i, p in records if i == 0x0047] == [m.name for m in MODULES]
    assert [p for i, p in records if i == 0x0031] == [bytes(4)] * len(MODULES)  # MODULEOFFSET
    assert [p for i, p in records if i == 0x002C] == [b"\xff\xff"] * len(MODULES)  # MODULECOOKIE
    types = [i for i, _ in records if i in (0x21, 0x22)]
    assert types == [0x22, 0x22, 0x21, 0x22, 0x21]
    assert ids.count(0x002B) == len(MODULES) and ids[-1] == 0x0010


def test_builds_are_byte_identical(project):
    assert build_vba_project(MODULES) == project
    # Also across interpreters with different hash seeds (dict/set order).
    code = (
        "import hashlib, tests.template.test_ovba as t;"
        "print(hashlib.sha256(t.build_vba_project(t.MODULES)).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True,
            env={"PYTHONHASHSEED": seed}, cwd=str(Path(__file__).parents[2]),
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert digests == {hashlib.sha256(project).hexdigest()}


def test_project_name_changes_id_and_name():
    data = build_vba_project(MODULES[:1], project_name="ArTools")
    ole = olefile.OleFileIO(data)
    text = ole.openstream("PROJECT").read().decode()
    assert 'Name="ArTools"' in text and project_id_for("ArTools") in text
    assert project_id_for("ArTools") != project_id_for("VBAProject")


# ---------------------------------------------------------------- source text


def test_document_headers():
    workbook = normalise_source(Module("ThisWorkbook", "", "document")).split("\r\n")
    assert workbook[:8] == [
        'Attribute VB_Name = "ThisWorkbook"',
        'Attribute VB_Base = "0{00020819-0000-0000-C000-000000000046}"',
        "Attribute VB_GlobalNameSpace = False",
        "Attribute VB_Creatable = False",
        "Attribute VB_PredeclaredId = True",
        "Attribute VB_Exposed = True",
        "Attribute VB_TemplateDerived = False",
        "Attribute VB_Customizable = True",
    ]
    sheet = normalise_source(Module("Sheet1", "", "document"))
    assert 'Attribute VB_Base = "0{00020820-0000-0000-C000-000000000046}"' in sheet


def test_class_header_from_exported_cls():
    text = normalise_source(Module("Dictionary", DICTIONARY_CLS, "class"))
    assert "VERSION" not in text and "BEGIN" not in text and "MultiUse" not in text
    assert text.split("\r\n")[:9] == [
        'Attribute VB_Name = "Dictionary"',
        'Attribute VB_Base = "0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"',
        "Attribute VB_GlobalNameSpace = False",
        "Attribute VB_Creatable = False",
        "Attribute VB_PredeclaredId = False",
        "Attribute VB_Exposed = False",
        "Attribute VB_TemplateDerived = False",
        "Attribute VB_Customizable = False",
        "Option Explicit",
    ]
    assert "Attribute Item.VB_UserMemId = 0\r\n" in text  # member attributes kept


def test_given_attributes_override_defaults_and_extras_are_kept():
    source = 'Attribute VB_PredeclaredId = True\nAttribute VB_Description = "Helper"\nOption Explicit\n'
    lines = normalise_source(Module("Helper", source, "class")).split("\r\n")
    assert "Attribute VB_PredeclaredId = True" in lines
    assert lines[8] == 'Attribute VB_Description = "Helper"' and lines[9] == "Option Explicit"


def test_standard_module_header_not_duplicated():
    exported = 'Attribute VB_Name = "Module1"\r\nSub A()\r\nEnd Sub\r\n'
    assert normalise_source(Module("Module1", exported, "standard")) == exported
    plain = normalise_source(Module("Module1", "Sub A()\nEnd Sub", "standard"))
    assert plain == exported


def test_newlines_are_normalised_to_crlf():
    sources = ["A\nB\n", "A\r\nB\r\n", "A\rB\r", "A\nB"]
    texts = {normalise_source(Module("M", s, "standard")) for s in sources}
    assert texts == {'Attribute VB_Name = "M"\r\nA\r\nB\r\n'}


def test_leading_blank_lines_kept_without_header():
    text = normalise_source(Module("M", "\n\nSub A()\nEnd Sub\n", "standard"))
    assert text == 'Attribute VB_Name = "M"\r\n\r\n\r\nSub A()\r\nEnd Sub\r\n'


def test_vb_name_mismatch_raises():
    with pytest.raises(ValueError, match="VB_Name"):
        normalise_source(Module("Other", 'Attribute VB_Name = "Module1"\n', "standard"))


# ---------------------------------------------------------------- errors


def test_cp1252_violation_names_module_and_character():
    source = "Sub A()\n    MsgBox \"ok\"\n    MsgBox \"\u2192 next\"\nEnd Sub\n"
    with pytest.raises(ValueError) as info:
        build_vba_project([Module("Arrows", source, "standard")])
    message = str(info.value)
    assert "'Arrows'" in message and "U+2192" in message and "line 3" in message
    assert "1252" in message


@pytest.mark.parametrize(
    "modules, message",
    [
        ([Module("1abc", "", "standard")], "identifier"),
        ([Module("has space", "", "standard")], "identifier"),
        ([Module("x" * 32, "", "standard")], "identifier"),
        ([Module("A", "", "standard"), Module("a", "", "class")], "same name"),
        ([Module("dir", "", "standard")], "reserved"),
        ([Module("M", "", "form")], "kind"),
        ([Module("Cyr\u0416", "", "standard")], "U\\+0416"),
    ],
)
def test_invalid_modules_raise(modules, message):
    with pytest.raises(ValueError, match=message):
        build_vba_project(modules)


def test_invalid_project_name_raises():
    with pytest.raises(ValueError, match="project name"):
        build_vba_project(MODULES[:1], project_name="My Project")


def test_incompressible_module_source_is_refused():
    rnd = random.Random(11)
    noise = "".join(chr(rnd.choice(range(0x21, 0x7F))) for _ in range(5000))
    with pytest.raises(ValueError, match="does not compress"):
        build_vba_project([Module("Noise", noise, "standard")])

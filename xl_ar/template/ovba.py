"""Build a ``vbaProject.bin`` from VBA source text, per [MS-OVBA].

The project written holds source code only: ``_VBA_PROJECT`` declares
version 0xFFFF and no performance cache, every module stream is just the
compressed source (MODULEOFFSET 0, no p-code), so Office compiles the project
from source when it opens the workbook.  Section numbers in comments refer to
[MS-OVBA]; the compound file itself is written by :mod:`xl_ar.template.cfb`.

Entry points: :class:`Module` and :func:`build_vba_project`; also
:func:`normalise_source` (the text stored per module), :func:`compress` /
:func:`decompress` (2.4.1) and :func:`encrypt_data` / :func:`decrypt_data`
(2.4.3).  Output is deterministic: the project id and the CMG/DPB/GC seeds
derive from the project name, so equal inputs give byte-identical files.
"""

from __future__ import annotations

import codecs
import hashlib
import re
import struct
import uuid
from dataclasses import dataclass
from typing import Literal, Sequence

from xl_ar.template.cfb import write_compound_file
from xl_ar.template.compression import chunk_flags, compress, decompress

__all__ = [
    "DEFAULT_REFERENCES", "Module", "VBA_PROJECT_STREAM", "build_dir_stream",
    "build_project_stream", "build_projectwm_stream", "build_vba_project", "compress",
    "decompress", "decrypt_data", "encrypt_data", "normalise_source", "project_id_for",
]  # fmt: skip

# ---- 2.4.3 Data Encryption (CMG, DPB and GC values of the PROJECT stream) ----


def _project_key(project_id: str) -> int:
    """ProjKey, 2.4.3.2: the byte sum of ProjectId.ProjectCLSID, braces included."""
    return sum(project_id.encode("ascii")) & 0xFF


def encrypt_data(data: bytes, project_id: str, seed: int, ignored: bytes = b"") -> str:
    """Encryption, 2.4.3.2, written as hex digits for the PROJECT stream.

    Args:
        data: the bytes to obfuscate.
        project_id: the PROJECT stream's ProjectCLSID, e.g. ``"{...}"``.
        seed: the Seed byte; ``(seed & 6) // 2`` IgnoredEnc bytes follow.
        ignored: values for those ignored bytes (zero-filled if too short).

    Returns:
        The Encrypted Data Structure (2.4.3.1) as upper-case hexadecimal.
    """
    version, proj_key = 2, _project_key(project_id)
    version_enc, proj_key_enc = seed ^ version, seed ^ proj_key
    unencrypted_1, encrypted_1, encrypted_2 = proj_key, proj_key_enc, version_enc
    ignored_length = (seed & 6) // 2
    ignored = (bytes(ignored) + bytes(3))[:ignored_length]
    out = bytearray([seed, version_enc, proj_key_enc])
    # IgnoredEnc, DataLengthEnc and DataEnc all use the same rolling state.
    for byte in ignored + struct.pack("<I", len(data)) + bytes(data):
        byte_enc = byte ^ ((encrypted_2 + unencrypted_1) & 0xFF)
        out.append(byte_enc)
        encrypted_2, encrypted_1, unencrypted_1 = encrypted_1, byte_enc, byte
    return out.hex().upper()


def decrypt_data(text: str, project_id: str | None = None) -> bytes:
    """Decryption, 2.4.3.3, of hex text such as :func:`encrypt_data` returns.

    Args:
        text: the hexadecimal Encrypted Data Structure.
        project_id: if given, ProjKey is checked against it.

    Returns:
        The decrypted Data; ValueError on a wrong version, key or length.
    """
    enc = bytes.fromhex(text)
    seed, version_enc, proj_key_enc = enc[:3]
    if seed ^ version_enc != 2:
        raise ValueError("encrypted data: Version must be 2")
    proj_key = seed ^ proj_key_enc
    if project_id is not None and proj_key != _project_key(project_id):
        raise ValueError("encrypted data: ProjKey does not match the project id")
    state = [proj_key, proj_key_enc, version_enc]  # UnencryptedByte1, Encrypted1, Encrypted2
    plain = bytearray()
    for byte_enc in enc[3:]:
        byte = byte_enc ^ ((state[2] + state[0]) & 0xFF)
        plain.append(byte)
        state = [byte, byte_enc, state[1]]
    ignored_length = (seed & 6) // 2
    (length,) = struct.unpack_from("<I", plain, ignored_length)
    data = bytes(plain[ignored_length + 4 :])
    if len(data) != length:
        raise ValueError(f"encrypted data: DataLength {length} but {len(data)} bytes")
    return data


# ---- Modules and their source text ----

ModuleKind = Literal["document", "standard", "class"]


@dataclass(frozen=True)
class Module:
    """A VBA module to put in the project.

    Attributes:
        name: module name, a VBA identifier of at most 31 characters; also
            its stream name.  E.g. "ThisWorkbook", "Sheet1", "Dictionary".
        source: VBA text, any newline convention; it may start with an
            exported file's ``VERSION``/``BEGIN..END`` block and ``Attribute``
            lines (see :func:`normalise_source`).
        kind: "document" (ThisWorkbook, sheets), "standard" (a .bas module)
            or "class" (a .cls module).
    """

    name: str
    source: str
    kind: ModuleKind


# Attribute header Excel stores at the top of each module's source (2.3.4.3
# holds "the source code"; these lines are what Office itself writes there).
_WORKBOOK_BASE = '"0{00020819-0000-0000-C000-000000000046}"'  # Excel Workbook
_WORKSHEET_BASE = '"0{00020820-0000-0000-C000-000000000046}"'  # Excel Worksheet
_CLASS_BASE = '"0{FCFB3D2A-A0FA-1068-A738-08002B3371B5}"'  # VBA class module
# Header attributes after VB_Name, in Excel's order: (class, document) value.
_HEADER_DEFAULTS = {
    "VB_Base": (_CLASS_BASE, None),  # document: workbook or worksheet class
    "VB_GlobalNameSpace": ("False", "False"),
    "VB_Creatable": ("False", "False"),
    "VB_PredeclaredId": ("False", "True"),
    "VB_Exposed": ("False", "True"),
    "VB_TemplateDerived": ("False", "False"),
    "VB_Customizable": ("False", "True"),
}
_KINDS = ("document", "standard", "class")
_ATTRIBUTE_LINE = re.compile(r"Attribute\s+(VB_\w+)\s*=\s*(.*?)\s*", re.IGNORECASE)
_VERSION_LINE = re.compile(r"VERSION\s+\d+(\.\d+)?(\s+CLASS)?\s*", re.IGNORECASE)
_IDENTIFIER = re.compile(r"[^\W\d_]\w*")


def _split_lines(text: str) -> list[str]:
    """Lines of ``text`` whatever the newline convention, final newline dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.endswith("\n"):
        text = text[:-1]
    return text.split("\n") if text else []


def _read_header(lines: list[str]) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Split an exported module into its leading attributes and its body.

    Skips a ``VERSION 1.0 CLASS`` line and the ``BEGIN ... END`` block that
    follows it (Excel's import drops them: the class's instancing is carried
    by VB_Creatable/VB_Exposed), then takes consecutive ``Attribute VB_x =``
    lines.  Member attributes (``Attribute Item.VB_UserMemId = 0``) live
    inside procedures and stay in the body untouched.

    Returns:
        ``({lower-case name: (name, value)}, body lines)``.
    """
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    first = lines[i].strip() if i < len(lines) else ""
    if not (_VERSION_LINE.fullmatch(first) or _ATTRIBUTE_LINE.fullmatch(first)):
        return {}, lines  # no header: leading blank lines belong to the body
    if _VERSION_LINE.fullmatch(first):
        i += 1
        depth = int(i < len(lines) and lines[i].strip().upper() == "BEGIN")
        i += depth
        while depth and i < len(lines):  # nested BEGIN..END blocks (forms) too
            word = lines[i].strip().split(" ", 1)[0].upper()
            depth += (word == "BEGIN") - (word == "END")
            i += 1
    attributes: dict[str, tuple[str, str]] = {}
    while i < len(lines):
        match = _ATTRIBUTE_LINE.fullmatch(lines[i].strip())
        if not match:
            break
        attributes[match.group(1).lower()] = (match.group(1), match.group(2))
        i += 1
    return attributes, lines[i:]


def normalise_source(module: Module) -> str:
    """The text stored in a module's stream: attribute header, then the code.

    The header is the one Excel writes for the module's kind: only
    ``Attribute VB_Name`` for standard modules; VB_Name, VB_Base,
    VB_GlobalNameSpace, VB_Creatable, VB_PredeclaredId, VB_Exposed,
    VB_TemplateDerived and VB_Customizable for class and document modules
    (document VB_Base is the Workbook class for "ThisWorkbook" and the
    Worksheet class otherwise, unless the source gives its own).  Attributes
    already in the source override the defaults and unknown ones are kept
    after them, so ``Attribute VB_Name`` is never duplicated.

    Args:
        module: the module.

    Returns:
        The text, every line ending in "\\r\\n".

    Raises:
        ValueError: if the source's ``Attribute VB_Name`` names another module.
    """
    given, body = _read_header(_split_lines(module.source))
    if "vb_name" in given and given["vb_name"][1].strip('"').lower() != module.name.lower():
        raise ValueError(
            f"module {module.name!r}: source says Attribute VB_Name = {given['vb_name'][1]}"
        )
    given.pop("vb_name", None)
    header = [f'Attribute VB_Name = "{module.name}"']
    if module.kind != "standard":
        column = 0 if module.kind == "class" else 1
        for name, values in _HEADER_DEFAULTS.items():
            default = values[column]
            if default is None:  # a document's VB_Base
                is_workbook = module.name.lower() == "thisworkbook"
                default = _WORKBOOK_BASE if is_workbook else _WORKSHEET_BASE
            header.append(f"Attribute {name} = {given.pop(name.lower(), (name, default))[1]}")
    header += [f"Attribute {name} = {value}" for name, value in given.values()]
    return "".join(line + "\r\n" for line in header + body)


# ---- Streams of the VBA storage (2.3.4) and the PROJECT streams (2.3.1, 2.3.3) ----

# 2.3.4.1: Reserved1 0x61CC, Version 0xFFFF (forces Office to recompile from
# source), Reserved2 0x00, Reserved3 (undefined, ignored), no PerformanceCache.
VBA_PROJECT_STREAM = bytes.fromhex("CC61FFFF000000")

DEFAULT_REFERENCES: tuple[tuple[str, str], ...] = (
    ("stdole", r"*\G{00020430-0000-0000-C000-000000000046}#2.0#0"
               r"#C:\Windows\System32\stdole2.tlb#OLE Automation"),
    ("Office", r"*\G{2DF8D04C-5BFA-101B-BDE5-00AA0044DE52}#2.0#0"
               r"#C:\Program Files\Common Files\Microsoft Shared\OFFICE16\MSO.DLL"
               r"#Microsoft Office 16.0 Object Library"),
)  # fmt: skip
"""(name, LibidReference) of the type libraries referenced: OLE Automation,
and the Office library, which defines IRibbonControl for ribbon callbacks."""

_SYSKIND_WIN32 = 0x00000001  # 2.3.4.2.1.1
_LCID_EN_US = 0x00000409  # 2.3.4.2.1.3 / .4: MUST be 0x409
_PROJECT_VERSION = (1, 0)  # 2.3.4.2.1.11: any value; Office updates it on save
# 2.3.1.3 ProjectModule lines: ProjectDocModule, ProjectStdModule, ProjectClassModule.
_PROJECT_MODULE_LINE = {"document": "Document={}/&H00000000", "standard": "Module={}", "class": "Class={}"}
_HOST_EXTENDER_VBE = "&H00000001={3832D640-CF90-11CF-8E43-00A0C911005A};VBE;&H00000000"


def _record(record_id: int, payload: bytes) -> bytes:
    """Id (2 bytes), Size (4 bytes), payload: the shape of most dir records."""
    return struct.pack("<HI", record_id, len(payload)) + payload


def _twin_record(record_id: int, first: bytes, reserved_id: int, second: bytes) -> bytes:
    """A record holding a string twice: MBCS, then a Reserved id and the twin
    (UTF-16, or MBCS again for PROJECTHELPFILEPATH)."""
    return _record(record_id, first) + _record(reserved_id, second)


def build_dir_stream(
    modules: Sequence[Module],
    project_name: str,
    codepage: int = 1252,
    references: Sequence[tuple[str, str]] = DEFAULT_REFERENCES,
) -> bytes:
    """The ``dir`` stream, 2.3.4.2, before compression.

    Args:
        modules: the modules, in project order.
        project_name: PROJECTNAME.
        codepage: PROJECTCODEPAGE, also the MBCS encoding of names.
        references: (name, LibidReference) pairs, REFERENCEREGISTERED each.

    Returns:
        PROJECTINFORMATION, PROJECTREFERENCES, PROJECTMODULES, Terminator.
    """
    codec = _codec(codepage)
    mbcs, utf16 = (lambda t: t.encode(codec)), (lambda t: t.encode("utf-16-le"))
    u32 = lambda record_id, value: _record(record_id, struct.pack("<I", value))  # noqa: E731
    out = bytearray()
    # 2.3.4.2.1 PROJECTINFORMATION (the optional PROJECTCOMPATVERSION omitted)
    out += u32(0x0001, _SYSKIND_WIN32)  # PROJECTSYSKIND
    out += u32(0x0002, _LCID_EN_US)  # PROJECTLCID
    out += u32(0x0014, _LCID_EN_US)  # PROJECTLCIDINVOKE
    out += _record(0x0003, struct.pack("<H", codepage))  # PROJECTCODEPAGE
    out += _record(0x0004, mbcs(project_name))  # PROJECTNAME
    out += _twin_record(0x0005, b"", 0x0040, b"")  # PROJECTDOCSTRING
    out += _twin_record(0x0006, b"", 0x003D, b"")  # PROJECTHELPFILEPATH
    out += u32(0x0007, 0)  # PROJECTHELPCONTEXT
    out += u32(0x0008, 0)  # PROJECTLIBFLAGS: MUST be 0
    # PROJECTVERSION: Reserved MUST be 4 although 6 bytes follow.
    out += struct.pack("<HIIH", 0x0009, 4, *_PROJECT_VERSION)
    out += _twin_record(0x000C, b"", 0x003C, b"")  # PROJECTCONSTANTS
    # 2.3.4.2.2 PROJECTREFERENCES: REFERENCENAME + REFERENCEREGISTERED each.
    for name, libid in references:
        out += _twin_record(0x0016, mbcs(name), 0x003E, utf16(name))
        lib = mbcs(libid)
        out += _record(0x000D, struct.pack("<I", len(lib)) + lib + struct.pack("<IH", 0, 0))
    # 2.3.4.2.3 PROJECTMODULES: count, PROJECTCOOKIE (0xFFFF on write), MODULEs.
    out += _record(0x000F, struct.pack("<H", len(modules)))
    out += _record(0x0013, struct.pack("<H", 0xFFFF))
    for module in modules:  # 2.3.4.2.3.2 MODULE Record
        out += _record(0x0019, mbcs(module.name))  # MODULENAME
        out += _record(0x0047, utf16(module.name))  # MODULENAMEUNICODE
        out += _twin_record(0x001A, mbcs(module.name), 0x0032, utf16(module.name))
        out += _twin_record(0x001C, b"", 0x0048, b"")  # MODULEDOCSTRING
        out += u32(0x0031, 0)  # MODULEOFFSET: the stream is only source
        out += u32(0x001E, 0)  # MODULEHELPCONTEXT
        out += _record(0x002C, struct.pack("<H", 0xFFFF))  # MODULECOOKIE
        # MODULETYPE: 0x21 procedural; 0x22 document, class or designer.
        out += struct.pack("<HI", 0x0021 if module.kind == "standard" else 0x0022, 0)
        out += struct.pack("<HI", 0x002B, 0)  # Terminator of the MODULE
    out += struct.pack("<HI", 0x0010, 0)  # Terminator of the dir stream
    return bytes(out)


def _derived_bytes(project_name: str, label: str, count: int) -> bytes:
    """Bytes fixed by the project name: deterministic stand-ins for randomness."""
    digest = hashlib.sha256(f"xl_ar.vbaProject\x00{project_name}\x00{label}".encode()).digest()
    return digest[:count]


def project_id_for(project_name: str) -> str:
    """ProjectCLSID (2.3.1.2) for a project: a GUID derived from its name."""
    return "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"xl_ar:vbaProject:{project_name}")).upper() + "}"


def build_project_stream(
    modules: Sequence[Module], project_name: str, codepage: int = 1252
) -> bytes:
    """The ``PROJECT`` stream, 2.3.1: project properties as MBCS text lines.

    CMG (2.3.1.15), DPB (2.3.1.16) and GC (2.3.1.17) state: not protected,
    no password, visible; each encrypted (2.4.3) with its own seed derived
    from the project name.

    Returns:
        The stream bytes, lines ending in "\\r\\n".
    """
    project_id = project_id_for(project_name)
    lines = [f'ID="{project_id}"']
    lines += [_PROJECT_MODULE_LINE[m.kind].format(m.name) for m in modules]  # 2.3.1.3
    lines += [f'Name="{project_name}"', 'HelpContextID="0"', 'VersionCompatible32="393222000"']
    for key, data in (("CMG", bytes(4)), ("DPB", b"\x00"), ("GC", b"\xff")):
        salt = _derived_bytes(project_name, key, 4)
        lines.append(f'{key}="{encrypt_data(data, project_id, salt[0], salt[1:])}"')
    lines += ["", "[Host Extender Info]", _HOST_EXTENDER_VBE, "", "[Workspace]"]
    lines += [f"{module.name}=0, 0, 0, 0, C" for module in modules]  # 2.3.1.19
    return "".join(line + "\r\n" for line in lines).encode(_codec(codepage))


def build_projectwm_stream(modules: Sequence[Module], codepage: int = 1252) -> bytes:
    """The ``PROJECTwm`` stream, 2.3.3: each module name as null-terminated
    MBCS then null-terminated UTF-16, then a 2-byte null Terminator."""
    codec = _codec(codepage)
    out = bytearray()
    for module in modules:
        out += module.name.encode(codec) + b"\x00" + module.name.encode("utf-16-le") + b"\x00\x00"
    return bytes(out + b"\x00\x00")


def _codec(codepage: int) -> str:
    """Python codec of a Windows code page, or ValueError."""
    try:
        return codecs.lookup(f"cp{codepage}").name
    except LookupError:
        raise ValueError(f"unsupported code page {codepage}") from None


def _check_encodable(what: str, text: str, codec: str, codepage: int) -> None:
    """Raise ValueError naming the first character the code page cannot hold."""
    try:
        text.encode(codec)
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        line = text.count("\n", 0, exc.start) + 1
        column = exc.start - (text.rfind("\n", 0, exc.start) + 1) + 1
        raise ValueError(
            f"{what}: character {char!r} (U+{ord(char):04X}) at line {line}, "
            f"column {column} cannot be encoded in code page {codepage}"
        ) from None


def _check_modules(modules: Sequence[Module], codec: str, codepage: int) -> None:
    seen: dict[str, str] = {}
    for module in modules:
        if module.kind not in _KINDS:
            raise ValueError(f"module {module.name!r}: unknown kind {module.kind!r}")
        if not _IDENTIFIER.fullmatch(module.name) or len(module.name) > 31:
            raise ValueError(f"module name {module.name!r} is not a VBA identifier of <= 31 chars")
        _check_encodable(f"module name {module.name!r}", module.name, codec, codepage)
        key = module.name.lower()
        if key in ("dir",):  # would collide with the dir stream in the VBA storage
            raise ValueError(f"module name {module.name!r} is reserved")
        if key in seen:
            raise ValueError(f"modules {seen[key]!r} and {module.name!r} have the same name")
        seen[key] = module.name
        _check_encodable(f"module {module.name!r}", module.source, codec, codepage)


def build_vba_project(
    modules: Sequence[Module],
    project_name: str = "VBAProject",
    codepage: int = 1252,
    references: Sequence[tuple[str, str]] = DEFAULT_REFERENCES,
) -> bytes:
    """Build a complete ``vbaProject.bin`` (2.2 VBA storage in a compound file).

    Layout: ``PROJECT`` and ``PROJECTwm`` streams at the root, storage
    ``VBA`` with ``_VBA_PROJECT``, ``dir`` (compressed) and one stream per
    module holding its compressed :func:`normalise_source` text.

    Args:
        modules: the modules, in the order the project lists them.
        project_name: the VBA project name (an identifier).
        codepage: code page of all MBCS text, 1252 for Western Excel.
        references: type library references (see DEFAULT_REFERENCES).

    Returns:
        The compound file bytes, identical for identical arguments.

    Raises:
        ValueError: for a name that is not a VBA identifier, duplicate
            module names, a character the code page cannot encode (the
            message names the module, the character and its position), or a
            4096-byte block of source that does not compress.
    """
    modules = list(modules)
    codec = _codec(codepage)
    if not _IDENTIFIER.fullmatch(project_name) or len(project_name.encode(codec, "replace")) > 128:
        raise ValueError(f"project name {project_name!r} is not a VBA identifier of <= 128 bytes")
    _check_encodable(f"project name {project_name!r}", project_name, codec, codepage)
    _check_modules(modules, codec, codepage)
    vba: dict[str, bytes] = {
        "_VBA_PROJECT": VBA_PROJECT_STREAM,
        "dir": compress(build_dir_stream(modules, project_name, codepage, references)),
    }
    for module in modules:
        stream = compress(normalise_source(module).encode(codec))
        if 0 in chunk_flags(stream):
            # Spec-valid raw chunks are reported to make Office drop the
            # module silently; VBA text always compresses, so refuse instead.
            raise ValueError(
                f"module {module.name!r}: a 4096-byte block of its source does not "
                "compress (no repeated text); Office may not load such a module"
            )
        vba[module.name] = stream
    project = build_project_stream(modules, project_name, codepage)
    projectwm = build_projectwm_stream(modules, codepage)
    return write_compound_file({"PROJECT": project, "PROJECTwm": projectwm, "VBA": vba})
